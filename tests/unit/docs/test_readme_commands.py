"""The README's command table and the CLI agree: every command is listed, every listed command exists."""

from __future__ import annotations

import re

import typer.main

from bionicflow.cli import app
from bionicflow.kernel.config import project_root


def cli_commands() -> set[str]:
    found: set[str] = set()

    def walk(group, prefix: str) -> None:
        for name, command in group.commands.items():
            if getattr(command, "commands", None):
                walk(command, f"{prefix}{name} ")
            else:
                found.add(prefix + name)

    walk(typer.main.get_command(app), "")
    return found


def readme_commands() -> set[str]:
    """`bionicflow X [Y]` in the first cell of each row of the README's command table (options dropped)."""
    names, in_table = set(), False
    for line in (project_root() / "README.md").read_text().splitlines():
        in_table = line.startswith("| command | what it does |") or (in_table and line.startswith("|"))
        if in_table and line.startswith("| `bionicflow "):
            for cell in re.findall(r"`bionicflow ([a-z -]+?)(?: \[| -|`| [A-Z])", line.split("|")[1]):
                names.add(cell.strip())
    return names


def test_every_command_is_in_the_readme_and_every_readme_command_exists():
    assert cli_commands() - readme_commands() == set(), "add these to the README's command table"
    assert readme_commands() - cli_commands() == set(), "the README lists commands the CLI does not have"
