"""What a function compiled without C has cost in its calls, kept on disk so that a loop that
spans processes earns its C twin.

A function compiled without C is compiled with C once its calls have cost what the C
compilation would (:class:`~pmfisher._core.compiled.compilation.CompiledFunction`: a ski
rental, which pays at most twice the better of the two choices). Counted in one process, a
function whose calls cost less than its compilation in every process never upgrades, though
its C twin, stored once, would serve every process after: the sparse latent Hessian of a
25-group random-slopes model, called 3,126 times by one ``laplace(hyper="quadrature")``,
spent 27 s without C in each fresh process against an estimated 35 s to compile. The calls'
count and CPU seconds are therefore kept beside the stored function
(``<function>.rent.json``) and carried into every process that loads it, and the rental is
over when their sum reaches the compilation's cost.

The account is written at most once per :data:`WRITE_EVERY_SECONDS` of calls, atomically; two
processes renting the same function at once may each overwrite the other's last entries, which
delays the upgrade and changes no result.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["Rent"]

#: CPU seconds of calls between two writes of the account.
WRITE_EVERY_SECONDS = 1.0


class Rent:
    """The calls and CPU seconds a function without C has run up, in this process and in
    the earlier ones that loaded it from the same stored function (``path``, or ``None``
    for a function that is not stored: then this process's alone)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.calls, self.seconds = 0, 0.0
        if path is not None:
            try:
                kept = json.loads(path.read_text())
                self.calls, self.seconds = int(kept["calls"]), float(kept["seconds"])
            except (OSError, ValueError, KeyError, TypeError):
                pass  # none yet, or unreadable: the rental starts here
        self._written = self.seconds

    @classmethod
    def beside(cls, function_path: Path | None) -> Rent:
        """The account of the function stored at ``function_path``."""
        if function_path is None:
            return cls(None)
        return cls(function_path.with_name(function_path.stem + ".rent.json"))

    def add(self, seconds: float) -> None:
        """One more call, of ``seconds`` CPU seconds."""
        self.calls += 1
        self.seconds += seconds
        if self.path is not None and self.seconds - self._written >= WRITE_EVERY_SECONDS:
            self._write()

    def close(self) -> None:
        """The rental is over (the C twin is compiled and stored): its account goes."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        self._written = self.seconds
        try:
            with tempfile.NamedTemporaryFile(
                "w", dir=self.path.parent, suffix=".tmp", delete=False
            ) as file:
                json.dump({"calls": self.calls, "seconds": self.seconds}, file)
            os.replace(file.name, self.path)
        except OSError:
            pass  # a read-only or full cache directory: the count stays in this process
