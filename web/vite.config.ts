/// <reference types="vitest/config" />
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";
import { sourceHash } from "./build-info";

const here = dirname(fileURLToPath(import.meta.url));

/** Writes build-info.json (the hash of the sources this build came from) next to index.html. */
function buildInfo(): Plugin {
  let outDir = "";
  return {
    name: "sfu-build-info",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      writeFileSync(join(outDir, "build-info.json"), JSON.stringify(sourceHash(here), null, 2) + "\n");
    },
  };
}

// The build lands where the Python server serves it from (sfu/web_routes.py), and is committed there, so
// running the server needs no Node.js (tests/web/test_web_build.py checks it matches these sources).
export default defineConfig({
  base: "/",
  plugins: [react(), buildInfo()],
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
