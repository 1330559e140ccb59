"""Progress on long work, shown the way PyMC shows it.

PyMC 6 draws its bars with `rich <https://rich.readthedocs.io>`_ on stderr (the columns and
theme of ``pymc.progress_bar``: description, bar, percentage, time remaining / elapsed), takes
``progressbar=True`` as the switch, and draws nothing when it is ``False``. pmfisher reuses
those columns and that theme, with two more rules so that logs and CI stay clean:

- progress is shown only when someone watches: stderr is a terminal or a Jupyter notebook,
  the environment variable ``CI`` is unset and ``PMFISHER_PROGRESS`` is not ``off``;
- a call made with ``progressbar=False`` silences everything inside it, the compile notices
  of :func:`slow_work_notice` included (a context variable carries the switch down).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
import time

from rich.console import Console
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["progress_bar", "progress_wanted", "slow_work_notice"]

# Work that has not finished after this many seconds gets a notice (compiles, mostly).
NOTICE_AFTER_SECONDS = 2.0

_ALLOWED = contextvars.ContextVar("pmfisher_progress_allowed", default=True)


def progress_wanted(progressbar: bool = True) -> bool:
    """Whether to show progress: asked for (``progressbar``), not silenced by an enclosing
    call, and watched (see the module docstring)."""
    if not (progressbar and _ALLOWED.get()):
        return False
    if os.environ.get("PMFISHER_PROGRESS", "").lower() == "off" or os.environ.get("CI"):
        return False
    return _watched()


def _watched() -> bool:
    return sys.stderr.isatty() or Console(file=sys.stderr).is_jupyter


class _Bar:
    """A rich progress bar with PyMC's columns and theme, or nothing."""

    def __init__(self, description: str, total: int, shown: bool):
        self._progress = None
        if shown:
            from pymc.progress_bar import CustomProgress, default_progress_theme

            self._progress = CustomProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                "[progress.percentage]{task.percentage:>3.0f}%",
                TimeRemainingColumn(),
                TextColumn("/"),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr, theme=default_progress_theme),
            )
            self._task = self._progress.add_task(description, total=total)

    def advance(self, steps: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, steps)


@contextlib.contextmanager
def progress_bar(description: str, total: int, *, progressbar: bool = True):
    """A progress bar over ``total`` units of work, advanced with ``bar.advance(n)``.

    Inside the ``with`` block, nested work (compiles) shows nothing when ``progressbar`` is
    ``False``, nor while this bar is drawn (one display at a time).

    Examples
    --------
    >>> with progress_bar("fitting replicates", total=3, progressbar=False) as bar:
    ...     for _ in range(3):
    ...         bar.advance()
    """
    shown = progress_wanted(progressbar)
    bar = _Bar(description, total, shown)
    token = _ALLOWED.set(False) if not progressbar or shown else None
    try:
        if bar._progress is None:
            yield bar
        else:
            with bar._progress:
                yield bar
    finally:
        if token is not None:
            _ALLOWED.reset(token)


@contextlib.contextmanager
def quiet(progressbar: bool):
    """Silence the progress of nested work when ``progressbar`` is ``False``."""
    token = _ALLOWED.set(False) if not progressbar else None
    try:
        yield
    finally:
        if token is not None:
            _ALLOWED.reset(token)


@contextlib.contextmanager
def slow_work_notice(description: str, *, after: float = NOTICE_AFTER_SECONDS):
    """Say ``description …`` on stderr, with a spinner and the elapsed time, if the work in
    the block is still running after ``after`` seconds, and how long it took at the end.

    Fast work (a compiled function loaded from the cache) shows nothing.
    """
    if not progress_wanted():
        yield
        return
    console = Console(file=sys.stderr)
    state = {"status": None, "start": time.perf_counter()}
    lock = threading.Lock()

    def show():
        with lock:
            if state["status"] is False:
                return
            state["status"] = console.status(f"{description} …")
            state["status"].start()

    timer = threading.Timer(after, show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            status, state["status"] = state["status"], False
        if status is not None:
            status.stop()
            elapsed = time.perf_counter() - state["start"]
            console.print(f"{description} … done ({elapsed:.1f} s)", highlight=False)
