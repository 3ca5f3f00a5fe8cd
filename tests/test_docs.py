"""The README's command table is checked against the real parser (docs that drift are a defect)."""

from __future__ import annotations

import re
from pathlib import Path

from analysis.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def command_table() -> dict[str, str]:
    """README's ``| `milestone-lens CMD ...` | does |`` rows, by command."""
    rows = re.findall(r"^\| `milestone-lens ([a-z-]+)([^`]*)` \|", README.read_text(encoding="utf-8"), re.M)
    return {name: options for name, options in rows}


def subparsers() -> dict:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return dict(action.choices)


def test_every_command_is_in_the_readme_table():
    assert set(command_table()) == set(subparsers())


def test_the_table_lists_every_option_unless_it_says_there_are_more():
    """A row ending in ``...`` points to ``--help``; every other row names each long option (``--db`` is
    said once above the table)."""
    for name, parser in subparsers().items():
        row = command_table()[name]
        if row.rstrip().endswith("..."):
            continue
        options = {o for a in parser._actions for o in a.option_strings if o.startswith("--")} - {"--help", "--db"}
        missing = {o for o in options if not re.search(re.escape(o) + r"\b", row)}
        assert not missing, (name, missing)
