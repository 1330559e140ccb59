"""The report's steps as one line each on a stream: ``[2/5] Laplace … done (1.3 s)``."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

__all__ = ["Progress", "Step"]


@dataclass
class Progress:
    """One line per step on a stream (stderr by default): ``[2/5] Laplace … done (1.3 s)``,
    or ``… not available (0.4 s)`` when the step could not be done for this model."""

    total: int
    stream: object = field(default_factory=lambda: sys.stderr)
    step: int = 0

    def __call__(self, message: str):
        self.step += 1
        return Step(self, f"[{self.step}/{self.total}] {message}")

    def note(self, text: str) -> None:
        """A line inside the current step, indented under it."""
        print(f"      {text}", file=self.stream, flush=True)


class Step:
    def __init__(self, progress, text):
        self.progress, self.text = progress, text
        self.outcome = "done"

    def __enter__(self):
        print(f"{self.text} …", file=self.progress.stream, flush=True)
        self.start = time.perf_counter()
        return self

    def __exit__(self, kind, error, traceback):
        outcome = "failed" if error is not None else self.outcome
        elapsed = time.perf_counter() - self.start
        print(f"{self.text} {outcome} ({elapsed:.1f} s)", file=self.progress.stream, flush=True)
        return False
