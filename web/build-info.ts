// The build records a hash of the sources it was made from (`build-info.json` beside index.html), so a test
// can tell, without Node, whether the committed build in sfu/static/app matches web/ (sfu/web_build.py
// computes the same hash in Python: keep the two rules identical).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

const SKIP_DIRS = new Set(["node_modules", "dist", "test"]);

/** Files that shape the build: everything under web/ except dependencies, outputs and tests. */
export function sourceFiles(webDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith(".")) walk(path);
      } else if (entry.isFile() && !entry.name.includes(".test.") && !entry.name.startsWith(".")
                 && !entry.name.endsWith(".tsbuildinfo")) {
        out.push(relative(webDir, path).split(sep).join("/"));
      }
    }
  };
  walk(webDir);
  return out.sort();
}

/** sha256 over "path\0sha256(content)\n" for each file, in sorted order. */
export function sourceHash(webDir: string): { sourceHash: string; files: string[] } {
  const files = sourceFiles(webDir);
  const total = createHash("sha256");
  for (const file of files) {
    const digest = createHash("sha256").update(readFileSync(join(webDir, file))).digest("hex");
    total.update(`${file}\0${digest}\n`);
  }
  return { sourceHash: total.digest("hex"), files };
}
