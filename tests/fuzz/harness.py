"""Time-boxed property-based fuzzing with hypothesis, run by CI as part of the test suite.

Each target is an ordinary hypothesis test wrapped by `fuzz_target`: it runs in rounds of
`ROUND_EXAMPLES` fresh random examples until its time budget is spent (`SFU_FUZZ_SECONDS` per
target, default 20; `SFU_FUZZ_SECONDS=300 pytest tests/fuzz -k rtcp` for a long session).
Every round first replays the saved failures.

**A failure** is shrunk by hypothesis, printed (with `@reproduce_failure` when needed) and saved in
`tests/fuzz/examples/` (hypothesis's example database, checked in): commit that folder with the fix,
so every later run replays it first. Better still, copy the printed input into an `@example(...)`
on the target: that survives edits of the target, which change the database key.

**A new target** (the SDP validation, say): a module `tests/fuzz/test_fuzz_<thing>.py` with

    from harness import fuzz_target
    from hypothesis import given, strategies as st

    @fuzz_target
    @given(st.text())
    def test_fuzz_thing(text: str) -> None:
        ...  # call the code; assert what must hold for every input

and, when its inputs are structured, a strategy that builds valid inputs next to raw ones.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

BUDGET_SECONDS = float(os.environ.get("SFU_FUZZ_SECONDS", "20"))
ROUND_EXAMPLES = 300
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"

FUZZ_SETTINGS = settings(
    max_examples=ROUND_EXAMPLES,
    deadline=None,  # a shared CI machine stalls now and then; hangs are caught by pytest-timeout
    database=DirectoryBasedExampleDatabase(str(EXAMPLES_DIR)),
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much),
    print_blob=True,
)


def fuzz_target(test: Callable[..., Any]) -> Callable[[], None]:
    """Turn a `@given` test into a pytest test that fuzzes it for `BUDGET_SECONDS`."""
    configured = FUZZ_SETTINGS(test)

    def run() -> None:
        deadline = time.monotonic() + BUDGET_SECONDS
        rounds = 0
        while rounds == 0 or time.monotonic() < deadline:
            configured()  # a new random seed each round; raises on the first (shrunk) failure
            rounds += 1

    run.__name__ = test.__name__
    run.__qualname__ = test.__qualname__
    run.__doc__ = test.__doc__
    run.__module__ = test.__module__
    return pytest.mark.timeout(BUDGET_SECONDS + 240)(run)
