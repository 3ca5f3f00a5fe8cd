"""Looking after the workspace as a whole: what it holds, its import history, undoing an import,
loading the sample, exporting the filtered data.

The dashboard's Data page and sidebar stand on these; they are plain functions over a DuckDB
connection so the command line and the tests can use them too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from analysis import store
from analysis.errors import UserError
from analysis.wording import plural
from analysis.filters import Filters
from analysis.importing import ImportSummary, import_files, stand_in_payment_sql

#: Filter fields whose choices come from the workspace's distinct values.
CHOICE_FIELDS = ("client", "freelancer", "category", "platform", "currency")


@dataclass(frozen=True)
class FilterChoices:
    """What the sidebar offers: the distinct values of each filter field and the start-date range."""

    client: tuple[str, ...] = ()
    freelancer: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    platform: tuple[str, ...] = ()
    currency: tuple[str, ...] = ()
    first_start: dt.date | None = None
    last_start: dt.date | None = None


def filter_choices(con: duckdb.DuckDBPyConnection) -> FilterChoices:
    """Distinct values of every filter field over the whole workspace (one scan, sorted case-insensitively)."""
    lists = ", ".join(
        f"list_sort(list(DISTINCT {name}) FILTER (WHERE {name} IS NOT NULL AND trim({name}) <> ''), "
        f"'ASC', 'NULLS LAST') AS {name}"
        for name in CHOICE_FIELDS
    )
    row = con.execute(f"SELECT {lists}, min(start_date), max(start_date) FROM contract_view").fetchone()
    values = {}
    for name, items in zip(CHOICE_FIELDS, row[: len(CHOICE_FIELDS)]):
        values[name] = tuple(sorted(items or (), key=lambda v: (v.lower(), v)))
    return FilterChoices(**values, first_start=row[-2], last_start=row[-1])


def values_not_in_workspace(con: duckdb.DuckDBPyConnection, filters: Filters) -> list[str]:
    """``client 'Acme'``: each filter value no contract has (compared as the filters compare them,
    ignoring case), so "no contracts match" can say why."""
    asked = {name: filters.values(name) for name in CHOICE_FIELDS if filters.values(name)}
    if not asked:
        return []
    choices = filter_choices(con)
    return [f"{name} '{value}'" for name, values in asked.items() for value in values
            if value.lower() not in {v.lower() for v in getattr(choices, name)}]


def import_history(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The import log, newest first: one row per imported file, ``batch_id`` grouping one import.

    ``still_here``: how many of the contracts, milestones and payments the file brought are in the
    workspace now (of its ``*_new``); removing an earlier import takes the rows of its contracts that
    later files brought, and the log's counts alone would still show them."""
    here = " UNION ALL ".join(f"SELECT first_import_id FROM {t}" for t in ("contracts", "milestones", "payments"))
    return con.execute(
        f"""WITH here AS (SELECT first_import_id, count(*) AS n FROM ({here}) GROUP BY ALL)
            SELECT batch_id AS "import", import_id AS file_id, file_name, format, source, imported_at,
                   coalesce(here.n, 0) AS still_here, contracts_new, contracts_updated, milestones_new,
                   milestones_updated, payments_new, payments_updated, duplicates_skipped,
                   array_to_string(warnings, '; ') AS warnings
            FROM imports LEFT JOIN here ON here.first_import_id = imports.import_id
            ORDER BY batch_id DESC, import_id"""
    ).df()


@dataclass(frozen=True)
class ImportRemoval:
    """What removing one import deleted, and what it could not undo."""

    batch_id: int
    files: tuple[str, ...]
    contracts: int
    milestones: int
    payments: int
    #: Rows that were already in the workspace and that this import changed: they stay, with the
    #: values it wrote (the workspace keeps no older versions to go back to).
    kept_updated: int
    #: Contracts whose ``paid_total`` payment this import had retired (its milestones carried the
    #: payments) and that, with those payments gone, are paid by their ``paid_total`` again.
    restored_totals: int = 0
    #: Contract completions a completions file of this import made, and no later edit changed: deleted.
    #: (Those it changed count in ``kept_updated``.)
    completions: int = 0
    #: Completions of contracts it brought that stay with the contracts gone (entered on the Data page,
    #: or merged from a dataset): they complete those contracts again when they are imported again.
    kept_completions: int = 0

    def describe(self) -> str:
        text = (f"Removed import {self.batch_id} ({', '.join(self.files)}): {plural(self.contracts, 'contract')}, "
                f"{plural(self.milestones, 'milestone')}, {plural(self.payments, 'payment')}"
                + (f", {plural(self.completions, 'contract completion')} it had made (status, budget, planned "
                   "milestones)" if self.completions else "") + ".")
        if self.kept_updated:
            one = self.kept_updated == 1
            text += (f" {plural(self.kept_updated, 'row')} it had updated {'was' if one else 'were'} already in the "
                     f"workspace before it and {'keeps its updated values' if one else 'keep their updated values'}.")
        if self.restored_totals:
            text += (f" {plural(self.restored_totals, 'contract')} whose milestone payments it brought "
                     f"{'is' if self.restored_totals == 1 else 'are'} paid by {'its' if self.restored_totals == 1 else 'their'} "
                     "paid_total again.")
        if self.kept_completions:
            one = self.kept_completions == 1
            text += (f" {plural(self.kept_completions, 'completion')} of its contracts (status, budget, planned "
                     f"milestones) {'stays' if one else 'stay'}, to complete {'it' if one else 'them'} again if "
                     f"{'it is' if one else 'they are'} imported again.")
        return text


def remove_import(con: duckdb.DuckDBPyConnection, batch_id: int) -> ImportRemoval:
    """Delete every row one import (a batch of files imported together) brought in, in one transaction.

    Contracts first written by the import go, with all their milestones and payments (also those a
    later import added to them, which cannot stand without their contract). Rows it only updated
    stay. A contract whose ``paid_total`` payment the import retired (its milestones brought
    payments) gets it back once those payments are gone. Completions a completions file of the
    import made go, unless edited since; those it changed stay as it set them (like updated rows),
    and those the user entered on the Data page are kept, so re-importing an export brings its
    contracts back completed.
    """
    batch_id = int(batch_id)
    files = con.execute(
        "SELECT import_id, file_name FROM imports WHERE batch_id = ? ORDER BY import_id", [batch_id]
    ).fetchall()
    if not files:
        raise UserError(f"import {batch_id}: there is no such import in the workspace")
    ids = [f[0] for f in files]
    marks = ", ".join("?" for _ in ids)
    with store.transaction(con):
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _removed_contracts AS
                SELECT source, contract_id FROM contracts WHERE first_import_id IN ({marks})""",
            ids,
        )
        gone_contract = ("EXISTS (SELECT 1 FROM _removed_contracts g "
                         "WHERE g.source = t.source AND g.contract_id = t.contract_id)")
        kept_updated = con.execute(
            f"""SELECT (SELECT count(*) FROM contracts t WHERE import_id IN ({marks}) AND first_import_id NOT IN ({marks}))
                     + (SELECT count(*) FROM milestones t WHERE import_id IN ({marks}) AND first_import_id NOT IN ({marks})
                        AND NOT {gone_contract})
                     + (SELECT count(*) FROM payments t WHERE import_id IN ({marks}) AND first_import_id NOT IN ({marks})
                        AND NOT {gone_contract})""",
            ids * 6,
        ).fetchone()[0]
        # Contracts that stay but lose milestone payments: their paid_total may stand in again.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _unpaid_contracts AS
                SELECT DISTINCT source, contract_id FROM payments t
                WHERE first_import_id IN ({marks}) AND kind IN ('milestone', 'hourly') AND NOT {gone_contract}""",
            ids,
        )
        milestones = con.execute(
            f"DELETE FROM milestones t WHERE first_import_id IN ({marks}) OR {gone_contract}", ids
        ).fetchone()[0]
        payments = con.execute(
            f"DELETE FROM payments t WHERE first_import_id IN ({marks}) OR {gone_contract}", ids
        ).fetchone()[0]
        contracts = con.execute(f"DELETE FROM contracts WHERE first_import_id IN ({marks})", ids).fetchone()[0]
        # A completion a completions file made carries its import's time (both now(): the import transaction's
        # start) and goes; one it changed carries that time plus a microsecond and stays, as updated rows do
        # (``completions._apply``); one edited since has another time and stays.
        completions = con.execute(
            """DELETE FROM contract_completions WHERE updated_at IN (
                   SELECT imported_at FROM imports WHERE batch_id = ? AND format = 'completions')""", [batch_id],
        ).fetchone()[0]
        kept_updated += con.execute(
            """SELECT count(*) FROM contract_completions WHERE updated_at IN (
                   SELECT imported_at + INTERVAL 1 MICROSECOND FROM imports WHERE batch_id = ? AND format = 'completions')""",
            [batch_id],
        ).fetchone()[0]
        kept_completions = con.execute(
            """SELECT count(*) FROM contract_completions c JOIN _removed_contracts USING (source, contract_id)""",
        ).fetchone()[0]
        restored = con.execute(
            f"""INSERT INTO payments
                SELECT {stand_in_payment_sql("c")}, c.first_import_id, c.import_id
                FROM contracts c JOIN _unpaid_contracts USING (source, contract_id)
                WHERE c.paid_total > 0
                  AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.source = c.source AND p.contract_id = c.contract_id
                                  AND p.kind IN ('milestone', 'hourly', 'contract_total'))"""
        ).fetchone()[0]
        con.execute("DELETE FROM imports WHERE batch_id = ?", [batch_id])
        con.execute("DROP TABLE IF EXISTS temp._removed_contracts")
        con.execute("DROP TABLE IF EXISTS temp._unpaid_contracts")
        store.bump_data_version(con)
    return ImportRemoval(batch_id, tuple(f[1] for f in files), int(contracts), int(milestones), int(payments),
                         int(kept_updated), int(restored), int(completions), int(kept_completions))


def load_sample(con: duckdb.DuckDBPyConnection, paths: list[Path] | None = None) -> ImportSummary:
    """Import a synthetic history (source ``sample``; default: the bundled one) into an empty workspace.

    Never beside other contracts: synthetic rows would mix into a real history's figures, and a
    second sample would update the first one's contracts while keeping milestones it no longer has.
    """
    if not store.is_empty(con):
        raise UserError("the workspace already holds contracts; the sample is only loaded into an empty workspace")
    if paths is None:
        paths = [store.SAMPLE_DIR / "contracts.csv", store.SAMPLE_DIR / "milestones.csv"]
    return import_files(con, paths, fmt="canonical", source="sample")


#: Tables ``export_table`` can write, in the order the Data page offers them.
EXPORT_TABLES = ("contracts", "milestones", "payments")


def export_table(con: duckdb.DuckDBPyConnection, table: str, filters: Filters) -> pd.DataFrame:
    """The filtered contracts (as analysed: completions applied, structure derived), or the
    milestones or payments of those contracts. Payments that belong to no contract (withdrawal
    fees, connects) are included only when nothing is filtered."""
    if table not in EXPORT_TABLES:
        raise UserError(f"cannot export '{table}' (choose one of: {', '.join(EXPORT_TABLES)})")
    where, params = filters.where("v")
    if table == "contracts":
        return con.execute(
            f"""SELECT v.source, v.contract_id, v.client, v.freelancer, v.title, v.category, v.platform,
                       v.contract_type, v.structure, v.status, v.budget, v.currency, v.start_date,
                       v.planned_end_date, v.end_date, v.milestone_rows, v.planned_milestones
                FROM contract_view v WHERE {where} ORDER BY v.source, v.start_date, v.contract_id""",
            params,
        ).df()
    selected = f"EXISTS (SELECT 1 FROM contract_view v WHERE v.source = t.source AND v.contract_id = t.contract_id AND {where})"
    if table == "milestones":
        return con.execute(
            f"""SELECT t.source, t.contract_id, t.seq, t.kind, t.description, t.amount, t.due_date,
                       t.funded_date, t.submitted_date, t.paid_date, t.paid_amount, t.fee, t.status
                FROM milestones t WHERE {selected} ORDER BY t.source, t.contract_id, t.seq""",
            params,
        ).df()
    unlinked = " OR t.contract_id IS NULL" if filters.is_empty() else ""
    return con.execute(
        f"""SELECT t.source, t.payment_key, t.contract_id, t.seq, t.kind, t.paid_date, t.gross, t.fee,
                   t.gross - t.fee AS net, t.currency, t.pending, t.description
            FROM payments t WHERE {selected}{unlinked}
            ORDER BY t.source, t.paid_date NULLS LAST, t.payment_key""",
        params,
    ).df()

