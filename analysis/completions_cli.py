"""``milestone-lens completions``: the CSV of contracts still to complete, ready to fill in.

A transaction history leaves contracts without a status or budget; the import counts them,
this names them. The columns the completions import reads come first (``source``,
``contract_id``, ``status``, ``budget``, ``planned_milestones``), what helps recognise each
contract after them (the completions import ignores those), so the filled-in file goes back
with ``milestone-lens import FILE``.
"""

from __future__ import annotations

import argparse
import sys

from analysis import completions
from analysis.cli import command, workspace_to_read

#: The file's columns: what the completions import reads, then what recognises the contract.
COLUMNS = {
    "source": "source", "contract_id": "contract_id", "status": "status", "budget": "budget",
    "planned_milestones": "planned_milestones", "client": "client", "title": "title", "structure": "structure",
    "milestone_rows": "milestones_imported", "start_date": "started", "paid_gross": "paid_so_far",
}


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="every contract, not only those still missing a status or budget")


@command("completions", _configure)
def run_completions(args: argparse.Namespace) -> int:
    """Print a CSV of the contracts still missing a status or budget, to fill in and import."""
    with workspace_to_read(args, "no workspace yet; import a history first") as con:
        table = completions.completion_table(con, only_incomplete=not args.all)
    out = table[list(COLUMNS)].rename(columns=COLUMNS)
    out.to_csv(sys.stdout, index=False, float_format="%.2f", date_format="%Y-%m-%d", lineterminator="\n")
    if not args.all and out.empty:
        print("Every contract has a status, and every fixed-price contract a budget: nothing to complete "
              "(--all lists them all)", file=sys.stderr)
    elif not args.all:
        print(f"{len(out):,} contract{'' if len(out) == 1 else 's'} to complete: fill in status "
              f"({', '.join(completions.CONTRACT_STATUSES)}), budget and planned_milestones, then "
              "`milestone-lens import` the file (empty cells change nothing)", file=sys.stderr)
    return 0
