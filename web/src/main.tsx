import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./global.css";

// No StrictMode: its double-mounted effects would open and close a call (and its devices) twice in development.
const root = document.getElementById("root");
if (!root) throw new Error("no #root element");
createRoot(root).render(<App />);
