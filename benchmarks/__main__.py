"""`python -m benchmarks` (and the `sfu-bench` script)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

# What `make run` installs is enough for the server; the benchmarks also draw tables and plots.
EXTRAS_HINT = (
    "sfu-bench needs the benchmark extras ({missing}), which `make run` does not install. Install them with\n"
    "  make bench ARGS=\"--help\"                    (installs .[bench] into .venv, then runs sfu-bench)\n"
    "or\n"
    "  .venv/bin/python -m pip install -e '.[bench]'\n"
    "(`make test` installs them too.)"
)


def main(argv: Sequence[str] | None = None) -> int:
    missing = []
    for module in ("rich", "matplotlib"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        print(EXTRAS_HINT.format(missing=", ".join(missing)), file=sys.stderr)
        return 2
    from benchmarks.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
