"""Progress on long work, shown the way PyMC shows it.

PyMC 6 draws its bars with `rich <https://rich.readthedocs.io>`_ on stderr (the columns and
theme of ``pymc.progress_bar``: description, bar, percentage, time remaining / elapsed), takes
``progressbar=True`` as the switch, and draws nothing when it is ``False``. pmfisher reuses
those columns and that theme, with two more rules so that logs and CI stay clean:

- progress is shown only when someone watches: stderr is a terminal or a Jupyter notebook,
  the environment variable ``CI`` is unset and ``PMFISHER_PROGRESS`` is not ``off``;
- a call made with ``progressbar=False`` silences everything inside it, the notices of
  :func:`slow_work_notice` (compiles) included: a context variable carries the switch down.

Rich draws one live display at a time, so work that turns out slow inside a bar (a compile
during the first chunk) says so in the bar's description instead of a display of its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import sys
import threading
import time

from rich.console import Console
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["progress_bar", "progress_switch", "progress_wanted", "quiet", "slow_work_notice"]

# Work that has not finished after this many seconds gets a notice (compiles, mostly).
NOTICE_AFTER_SECONDS = 2.0

_ALLOWED = contextvars.ContextVar("pmfisher_progress_allowed", default=True)
_ACTIVE_BAR = contextvars.ContextVar("pmfisher_active_bar", default=None)


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
    """A rich progress bar with PyMC's columns and theme (or nothing, when not shown)."""

    def __init__(self, description: str, total: int, shown: bool):
        self.description = description
        self.progress = None
        if shown:
            from pymc.progress_bar import CustomProgress, default_progress_theme

            self.progress = CustomProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                "[progress.percentage]{task.percentage:>3.0f}%",
                TimeRemainingColumn(),
                TextColumn("/"),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr, theme=default_progress_theme),
            )
            self.task = self.progress.add_task(description, total=total)

    def advance(self, steps: int = 1) -> None:
        """Count ``steps`` more units of work as done."""
        if self.progress is not None:
            self.progress.advance(self.task, steps)

    def describe(self, description: str | None) -> None:
        """Show ``description`` instead of the bar's own (``None``: back to its own)."""
        if self.progress is not None:
            self.progress.update(self.task, description=description or self.description)


@contextlib.contextmanager
def progress_bar(description: str, total: int, *, progressbar: bool = True):
    """A progress bar over ``total`` units of work, advanced with ``bar.advance(n)``.

    Examples
    --------
    >>> with progress_bar("fitting replicates", total=3, progressbar=False) as bar:
    ...     for _ in range(3):
    ...         bar.advance()
    """
    # One display at a time: a bar inside a bar (a Monte Carlo inside a study) is not drawn.
    bar = _Bar(description, total, progress_wanted(progressbar) and _ACTIVE_BAR.get() is None)
    with quiet(progressbar):
        if bar.progress is None:
            yield bar
            return
        token = _ACTIVE_BAR.set(bar)
        try:
            with bar.progress:
                yield bar
        finally:
            _ACTIVE_BAR.reset(token)


def progress_switch(function):
    """Decorate a function taking ``progressbar=``: called with ``False``, everything it does
    is silent, slow compiles included."""

    @functools.wraps(function)
    def switched(*args, progressbar: bool = True, **kwargs):
        with quiet(progressbar):
            return function(*args, progressbar=progressbar, **kwargs)

    return switched


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
def slow_work_notice(description: str, *, after: float | None = None):
    """Say ``description …`` on stderr, with a spinner, if the work in the block is still
    running after ``after`` seconds, and how long it took at the end; inside a progress bar,
    say it in the bar's description instead. Fast work (a compiled function loaded from the
    cache) shows nothing. ``after`` defaults to ``NOTICE_AFTER_SECONDS``.
    """
    # Work in other threads (an executor's) would draw over the main thread's display.
    if not progress_wanted() or threading.current_thread() is not threading.main_thread():
        yield
        return
    bar = _ACTIVE_BAR.get()
    console = Console(file=sys.stderr)
    start = time.perf_counter()
    lock = threading.Lock()
    state = {"shown": None, "finished": False}

    def show():
        with lock:
            if state["finished"]:
                return
            if bar is not None:  # a bar's line is short: the notice without its aside
                bar.describe(f"{bar.description} ({description.partition(' (')[0]} …)")
                state["shown"] = bar
            else:
                state["shown"] = console.status(f"{description} …")
                state["shown"].start()

    timer = threading.Timer(NOTICE_AFTER_SECONDS if after is None else after, show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            state["finished"] = True
            shown = state["shown"]
        if shown is bar and bar is not None:
            bar.describe(None)
        elif shown is not None:
            shown.stop()
            elapsed = time.perf_counter() - start
            console.print(f"{description} … done ({elapsed:.1f} s)", highlight=False)
