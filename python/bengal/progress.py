"""Progress for long builds: a rich progress bar on a terminal, plain lines elsewhere (CI).

Nothing is shown for builds shorter than `threshold` seconds, and rich is imported only once a
bar is actually needed, so short and incremental builds pay nothing for it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    def __init__(
        self, *, stream: TextIO | None = None, threshold: float = 2.0, enabled: bool = True
    ):
        self.stream = stream or sys.stderr
        self.threshold = threshold
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.stage_name = ""
        self.done = 0
        self.total = 0
        self._bar: Any = None
        self._task: Any = None
        self._last_plain = 0.0

    def _late(self) -> bool:
        return self.enabled and time.perf_counter() - self.start >= self.threshold

    def __call__(self, stage: str, done: int = 0, total: int = 0) -> None:
        new_stage = stage != self.stage_name
        self.stage_name, self.done, self.total = stage, done, total
        if not self._late():
            return
        if self.tty:
            self._update_bar()
        elif new_stage or time.perf_counter() - self._last_plain > 5:
            self._last_plain = time.perf_counter()
            count = f" {done}/{total}" if total else ""
            elapsed = time.perf_counter() - self.start
            print(f"bengal: {stage}{count} ({elapsed:.1f} s)", file=self.stream, flush=True)

    def _update_bar(self) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.stage_name, total=None)
        self._bar.update(
            self._task,
            description=self.stage_name,
            completed=self.done,
            total=self.total or None,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
