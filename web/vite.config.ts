/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build lands where the Python server serves it from (sfu/web_routes.py).
export default defineConfig({
  base: "/",
  plugins: [react()],
  build: {
    outDir: "../sfu/static/app",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
  },
  server: {
    // `npm run dev`: proxy signaling to a server started with `make run`.
    proxy: { "/socket.io": { target: "http://127.0.0.1:8080", ws: true } },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
  },
});
