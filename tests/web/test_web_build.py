"""The web client shipped in sfu/static/app (committed, so the server needs no Node.js) is the build of web/.

Two checks: the source hash the build recorded equals the hash of web/ now (no Node needed: a stale
commit fails here with what to run), and a fresh `vite build` of web/ reproduces the committed files
byte for byte (so the hash cannot be right while the files are not).
"""

from __future__ import annotations

import filecmp
import json
import subprocess
from pathlib import Path

from web_support import WEB, npm

from sfu.web_build import BUILD, problem, source_hash


def test_the_committed_build_records_the_current_sources() -> None:
    assert problem() is None, problem()
    info = json.loads((BUILD / "build-info.json").read_text())
    assert info == source_hash()
    assert "src/lib/callClient.ts" in info["files"] and "package-lock.json" in info["files"]
    assert not any(".test." in name for name in info["files"])
    html = (BUILD / "index.html").read_text()
    assert '<div id="root">' in html and "/assets/" in html and 'rel="icon"' in html


def test_a_change_to_the_sources_is_noticed(tmp_path: Path) -> None:
    web = tmp_path / "web"
    for name in source_hash()["files"]:  # type: ignore[union-attr]
        (web / name).parent.mkdir(parents=True, exist_ok=True)
        (web / name).write_bytes((WEB / name).read_bytes())
    assert problem(web, BUILD) is None
    (web / "src" / "lib" / "route.ts").write_text("// edited\n", encoding="utf-8")
    message = problem(web, BUILD)
    assert message is not None and "make web" in message
    (web / "src" / "new.ts").write_text("export {};\n")
    assert "+src/new.ts" in (problem(web, BUILD) or "")


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_rebuilding_reproduces_the_committed_build(tmp_path: Path) -> None:
    out = tmp_path / "app"
    result = subprocess.run([npm(), "exec", "--", "vite", "build", "--outDir", str(out), "--emptyOutDir", "--logLevel", "warn"],
                            cwd=WEB, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"vite build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert tree(out) == tree(BUILD)
    _, mismatch, errors = filecmp.cmpfiles(out, BUILD, tree(BUILD), shallow=False)
    assert not mismatch and not errors, f"differ from the committed build: {mismatch + errors}: run `make web`"
