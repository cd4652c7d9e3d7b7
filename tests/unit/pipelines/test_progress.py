"""The progress bar shows only to a person at a terminal: piped or logged, a command's output
is what it was without it."""

from __future__ import annotations

import pytest

from pipelines.progress import track


def test_without_a_terminal_every_item_comes_and_nothing_is_printed(capsys, monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    assert list(track(range(5), "landing", 5)) == [0, 1, 2, 3, 4]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("variable", ["FORCE_COLOR", "TTY_COMPATIBLE"])
def test_at_a_terminal_the_bar_says_what_it_counts(capsys, monkeypatch, variable):
    monkeypatch.setenv(variable, "1")
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    assert list(track(iter(range(3)), "gate replay", 3)) == [0, 1, 2]
    assert "gate replay" in capsys.readouterr().err
