"""Every `mlops` command's `--help` ends with an example that would run: a command line of that
very command, naming only options it declares."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pipelines.cli import app

SEPARATORS = {"&&", "||", ";", "|"}
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _leaf_commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(full name, command) of every leaf command under `command`, recursing into the groups."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), command
        return
    for name, subcommand in sorted(subcommands.items()):
        yield from _leaf_commands(subcommand, (*path, name))


COMMANDS = dict(_leaf_commands(typer.main.get_command(app)))


def _example(docstring: str) -> str:
    """The `Example:` paragraph of a docstring, its lines joined, without the `Example:`."""
    paragraph = docstring.split("Example:", 1)[1].split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines()).strip()


def _mlops_invocations(example: str) -> list[list[str]]:
    """The words of each `mlops …` simple command of a shell line (after any `VAR=value`)."""
    invocations: list[list[str]] = []
    segment: list[str] = []
    for word in [*shlex.split(example), "&&"]:
        if word not in SEPARATORS:
            segment.append(word.strip("()"))
            continue
        words = [w for w in segment if w]
        while words and ENV_ASSIGNMENT.match(words[0]):
            words.pop(0)
        if words and words[0] == "mlops":
            invocations.append(words)
        segment = []
    return invocations


def _declared_options(command: Any) -> set[str]:
    return {
        opt
        for param in command.params
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("-")
    }


def test_every_command_is_found():
    assert {"land", "data publish", "gate batch", "quarantine release", "models latest"} <= set(
        COMMANDS
    )
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_an_example_of_the_command_with_its_own_options(name):
    command = COMMANDS[name]
    shown = CliRunner().invoke(app, [*name.split(), "--help"])
    assert shown.exit_code == 0, shown.output
    assert "Example:" in shown.output, f"`mlops {name} --help` shows no example"

    invocations = _mlops_invocations(_example(command.help or ""))
    assert invocations, f"the example of `mlops {name}` runs no mlops command"
    for words in invocations:
        assert words[: 1 + len(name.split())] == ["mlops", *name.split()], (
            f"the example of `mlops {name}` runs `{' '.join(words)}`"
        )
        used = {word.split("=", 1)[0] for word in words if word.startswith("--")}
        unknown = used - _declared_options(command)
        assert not unknown, f"`mlops {name}` has no option {sorted(unknown)}"
