"""Does the web client shipped in `sfu/static/app` match the sources in `web/`?

The build is committed so that running the server needs no Node.js. Each build writes `build-info.json`
with a hash of the sources it came from (`web/build-info.ts`); this module computes the same hash in
Python, so the check needs no Node either. `python -m sfu.web_build` exits 1 (and says what to run) when
the build is missing or stale.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
BUILD = Path(__file__).resolve().parent / "static" / "app"
SKIP_DIRS = {"node_modules", "dist", "test"}


def source_files(web_dir: Path = WEB) -> list[str]:
    """Files that shape the build: everything under web/ except dependencies, outputs and tests."""
    found: list[str] = []

    def walk(folder: Path) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                if entry.name not in SKIP_DIRS and not entry.name.startswith("."):
                    walk(entry)
            elif (entry.is_file() and ".test." not in entry.name and not entry.name.startswith(".")
                  and not entry.name.endswith(".tsbuildinfo")):
                found.append(entry.relative_to(web_dir).as_posix())

    walk(web_dir)
    return sorted(found, key=lambda name: name.encode())  # JavaScript's sort: by UTF-16 code unit


def source_hash(web_dir: Path = WEB) -> dict[str, object]:
    """sha256 over "path\\0sha256(content)\\n" for each file in sorted order (as web/build-info.ts)."""
    files = source_files(web_dir)
    total = hashlib.sha256()
    for name in files:
        digest = hashlib.sha256((web_dir / name).read_bytes()).hexdigest()
        total.update(f"{name}\0{digest}\n".encode())
    return {"sourceHash": total.hexdigest(), "files": files}


def recorded(build_dir: Path = BUILD) -> dict[str, object] | None:
    info = build_dir / "build-info.json"
    if not info.is_file():
        return None
    return json.loads(info.read_text())


def problem(web_dir: Path = WEB, build_dir: Path = BUILD) -> str | None:
    """None when the build matches the sources; else what is wrong and what to run."""
    if not web_dir.is_dir():
        return None  # an installed package: no sources to compare with
    built = recorded(build_dir)
    if built is None:
        return f"{build_dir} has no build-info.json: build the web client with `make web`"
    current = source_hash(web_dir)
    if built.get("sourceHash") == current["sourceHash"]:
        return None
    before, now = set(built.get("files") or []), set(current["files"])  # type: ignore[arg-type]
    changes = [f"+{n}" for n in sorted(now - before)] + [f"-{n}" for n in sorted(before - now)]
    detail = f" (files {' '.join(changes)})" if changes else " (file contents changed)"
    return (f"the web client in {build_dir.relative_to(ROOT) if build_dir.is_relative_to(ROOT) else build_dir} "
            f"was built from other sources than web/{detail}: run `make web` and commit sfu/static/app")


if __name__ == "__main__":
    message = problem()
    if message:
        print(f"sfu.web_build: {message}", file=sys.stderr)
        sys.exit(1)
    print("sfu.web_build: sfu/static/app matches web/")
