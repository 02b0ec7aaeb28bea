"""Summarise a mutmut run over router/: score per module, and every mutant that no test killed.

`make mutate` runs mutmut (which writes its results next to the mutated copies in mutants/) and
then this script. Each surviving mutant is printed as the line it changed, before and after, so a
reader can judge it without `mutmut show` (which takes seconds per mutant). The exit status is 1
when the score is below `--min-score`, so the command can gate a change.

Score = (killed + timed out) / (all mutants - skipped), mutmut's own definition: a mutant that no
test even runs ("no tests") counts as a survivor.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3}
TIMEOUT = {36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}


def status(code: int | None) -> str:
    if code is None:
        return "not checked"
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    if code in SKIPPED:
        return "skipped"
    return "suspicious"


def function_sources(path: Path) -> dict[str, str]:
    """Mutant function name (as mutmut keys it, without the module) -> its source, def line dropped."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "__mutmut_" in node.name:
            out[node.name] = "\n".join(lines[node.lineno - 1 : node.end_lineno])
    return out


def changed_lines(original: str, mutant: str) -> str:
    """The lines that differ, as `before -> after` (the def line included: default values mutate)."""
    old = [line.strip() for line in original.splitlines()]
    new = [line.strip() for line in mutant.splitlines()]
    old[0] = old[0].split("(", 1)[-1]  # the def lines differ in the function's name only
    new[0] = new[0].split("(", 1)[-1]
    removed: list[str] = []
    added: list[str] = []
    for line in difflib.ndiff(old, new):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    before = " / ".join(removed) or "(nothing)"
    after = " / ".join(added) or "(line removed)"
    return f"{before}  ->  {after}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--package", default="router")
    parser.add_argument("--min-score", type=float, default=90.0)
    parser.add_argument("--json", type=Path, help="also write the survivors and counts here")
    args = parser.parse_args()

    root = args.mutants / args.package
    metas = sorted(root.glob("*.py.meta"))
    if not metas:
        print(f"no mutmut results under {root}: run `make mutate` first", file=sys.stderr)
        return 2
    totals: Counter[str] = Counter()
    per_module: dict[str, Counter[str]] = {}
    survivors: list[dict[str, str]] = []
    for meta in metas:
        source = meta.with_suffix("")  # router/x.py.meta -> router/x.py
        module = f"{args.package}.{source.stem}"
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        counts = per_module.setdefault(module, Counter())
        functions: dict[str, str] | None = None
        for key, code in sorted(codes.items(), key=lambda kv: (kv[0].rsplit("_", 1)[0], int(kv[0].rsplit("_", 1)[1]))):
            verdict = status(code)
            counts[verdict] += 1
            totals[verdict] += 1
            if verdict not in ("survived", "no tests", "suspicious", "not checked"):
                continue
            if functions is None:
                functions = function_sources(source)
            name = key.split(".", 2)[-1]  # router.x.NAME
            original = functions.get(name.rsplit("__mutmut_", 1)[0] + "__mutmut_orig", "")
            diff = changed_lines(original, functions.get(name, "")) if original else "(source not found)"
            readable = name.replace("xǁ", "").replace("ǁ", ".").rsplit("__mutmut_", 1)
            survivors.append({"mutant": key, "status": verdict, "where": f"{module}.{readable[0].removeprefix('x_')}",
                              "number": readable[1], "change": diff})

    def score(c: Counter[str]) -> float:
        tested = sum(c.values()) - c["skipped"]
        return 100.0 * (c["killed"] + c["timeout"]) / tested if tested else 100.0

    print(f"{'module':28} {'mutants':>7} {'killed':>7} {'timeout':>7} {'survived':>8} {'no tests':>8} {'score':>6}")
    for module, c in sorted(per_module.items()):
        print(f"{module:28} {sum(c.values()):7} {c['killed']:7} {c['timeout']:7} {c['survived']:8} "
              f"{c['no tests']:8} {score(c):5.1f}%")
    print(f"{'total':28} {sum(totals.values()):7} {totals['killed']:7} {totals['timeout']:7} "
          f"{totals['survived']:8} {totals['no tests']:8} {score(totals):5.1f}%")
    if totals["not checked"]:
        print(f"\n{totals['not checked']} mutants were not checked (an interrupted run?)")
    print(f"\nSurviving mutants ({len(survivors)}):")
    for s in survivors:
        print(f"  {s['status']:9} {s['where']} #{s['number']}: {s['change']}")
    if args.json is not None:
        args.json.write_text(json.dumps({"counts": dict(totals), "score": score(totals), "survivors": survivors},
                                        indent=1, ensure_ascii=False))
    final = score(totals)
    print(f"\nmutation score over {args.package}/: {final:.1f}% (minimum {args.min_score:.0f}%)")
    return 0 if final >= args.min_score and not totals["not checked"] else 1


if __name__ == "__main__":
    sys.exit(main())
