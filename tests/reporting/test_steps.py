"""reporting/steps.py: each step of a report is two lines on its stream — ``[k/n] what …``
when it starts and ``[k/n] what done (s)`` (or ``failed``, or the outcome it set) when it
ends — and a note sits indented between them."""

import io
import re

import pytest

from pmfisher.reporting.steps import Progress

END = r" \(\d+\.\d s\)"


def test_steps_count_up_and_say_how_they_ended():
    stream = io.StringIO()
    progress = Progress(total=3, stream=stream)
    with progress("maximum likelihood"):
        progress.note("a note on the way")
    with progress("Laplace approximation") as step:
        step.outcome = "not available"
    with pytest.raises(RuntimeError, match="broken"), progress("NUTS"):
        raise RuntimeError("broken")  # an error is reported and goes on up
    expected = [
        r"\[1/3\] maximum likelihood …",
        r"      a note on the way",
        r"\[1/3\] maximum likelihood done" + END,
        r"\[2/3\] Laplace approximation …",
        r"\[2/3\] Laplace approximation not available" + END,
        r"\[3/3\] NUTS …",
        r"\[3/3\] NUTS failed" + END,
    ]
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(expected)
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), line
    assert progress.step == 3


def test_the_default_stream_is_stderr(capsys):
    with Progress(total=1)("alone"):
        pass
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("[1/1] alone …\n[1/1] alone done (")
