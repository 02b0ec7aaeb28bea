"""Live progress in the terminal (rich), or nothing at all (tests, `--quiet`)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


class Display:
    """A progress line per run: its name, the phase, a bar and live rates."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.fields[run]}[/] {task.description:<18}"), BarColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"), console=self.console, transient=False,
        )
        self._task: int | None = None

    def __enter__(self) -> Display:
        self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._progress.stop()

    def new_run(self, name: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=100)
        self._task = self._progress.add_task("starting", total=100, run=name, stats="")

    def phase(self, name: str, fraction: float, stats: str = "") -> None:
        if self._task is None:
            self.new_run("run")
        assert self._task is not None
        self._progress.update(self._task, description=name, completed=100 * fraction, stats=stats)


class NullDisplay(Display):
    def __init__(self) -> None:  # noqa: D107 - nothing to set up
        pass

    def __enter__(self) -> NullDisplay:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def new_run(self, name: str) -> None:
        return None

    def phase(self, name: str, fraction: float, stats: str = "") -> None:
        return None
