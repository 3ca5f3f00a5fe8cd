"""Counted nouns for the sentences the reports and the dashboard write ("1 contract has")."""

from __future__ import annotations

#: How a sentence names a payment structure before "contract(s)" ("single-payment contracts").
STRUCTURE_WORDS = {"milestones": "milestone", "single": "single-payment", "hourly": "hourly"}


def plural(n: int, noun: str) -> str:
    """``1 milestone`` / ``3 milestones`` (thousands separated)."""
    n = int(n)
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def counted(n: int, noun: str) -> str:
    """``1 hourly contract has`` / ``6 hourly contracts have``."""
    return f"{plural(n, noun)} {'has' if int(n) == 1 else 'have'}"


def listed(items: list[str], limit: int) -> str:
    """``a, b, c and 2 more``: the first ``limit`` items of a list a warning names."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def joined(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " and " + items[-1]


def sentence(note: str) -> str:
    """A report note (lower case, no full stop) as a sentence on its own."""
    return note[:1].upper() + note[1:] + ("" if note.endswith(".") else ".")
