"""What an export cannot know — a contract's status, budget and planned milestones — completed by the user.

Completions live in ``contract_completions`` (one row per source and contract), never in
the imported rows, so re-importing a newer export keeps them; ``contract_view`` applies
them. They come from the dashboard's editable table (``complete_contract``) or from a
small CSV ``contract_id, status, budget, planned_milestones`` imported on top (format
``completions``; empty cells leave what was completed before).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import duckdb

from analysis import store
from analysis.canonical import CONTRACT_STATUSES
from analysis.errors import ROW_MARK, Problem, UserError, single_problem
from analysis.filters import TOWARD_BUDGET_KINDS, Filters, contracts_sql, uses_prepared
from analysis.locale import resolve_decimal_comma
from analysis.marketplace import from_transaction_history_sql
from analysis.parsing import StagedFile, amount_sql, failing_rows, whole_number_sql
from analysis.wording import listed, plural

if TYPE_CHECKING:  # the import path does not need pandas; DuckDB's .df() loads it when asked
    import pandas as pd

FIELDS = ("status", "budget", "planned_milestones")
#: How contracts get the dates a completion cannot give (a transaction history knows none of them).
DATES_FROM_TEMPLATE = ("a contracts CSV of the template (contract_id, start_date, status, end_date, planned_end_date) "
                       "imported on top under the contracts' source adds them")
MAX_BUDGET = Decimal("1e16")
MAX_PLANNED_MILESTONES = 10_000


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


#: Leave this field as it is (the default of ``complete_contract``'s keyword arguments).
KEEP = _Keep()


def _check_values(status, budget, planned_milestones) -> tuple:
    if status is not KEEP and status is not None:
        status = str(status).strip().lower() or None
        if status is not None and status not in CONTRACT_STATUSES:
            raise UserError(f"unknown status '{status}' (expected one of {', '.join(CONTRACT_STATUSES)})")
    if budget is not KEEP and budget is not None:
        try:
            value = Decimal(str(budget))
            if not value.is_finite():
                raise InvalidOperation
            if value != value.quantize(Decimal("0.01")):  # never rounded silently, as in an import
                raise UserError(f"budget '{budget}' has more than two decimals")
            value = value.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            raise UserError(f"budget '{budget}' is not an amount") from None
        if value < 0:
            raise UserError("budget must be zero or more")
        if value >= MAX_BUDGET:  # what the workspace's DECIMAL(18, 2) holds
            raise UserError(f"budget '{budget}' is too large (at most {MAX_BUDGET - Decimal('0.01'):,})")
        budget = value
    if planned_milestones is not KEEP and planned_milestones is not None:
        given = planned_milestones
        try:
            whole = float(given).is_integer()  # int() alone would cut 2.5 to 2
        except (TypeError, ValueError, OverflowError):
            whole = False
        if not whole:
            raise UserError(f"planned milestones '{given}' is not a whole number")
        planned_milestones = int(float(given))
        if planned_milestones < 1:
            raise UserError("planned milestones must be 1 or more")
        if planned_milestones > MAX_PLANNED_MILESTONES:
            raise UserError(f"planned milestones must be at most {MAX_PLANNED_MILESTONES:,}")
    return status, budget, planned_milestones


def complete_contract(
    con: duckdb.DuckDBPyConnection,
    source: str,
    contract_id: str,
    status: str | None | _Keep = KEEP,
    budget: float | Decimal | str | None | _Keep = KEEP,
    planned_milestones: int | None | _Keep = KEEP,
) -> None:
    """Set (or, with None, clear) what the user knows about one contract; ``KEEP`` leaves a field alone."""
    failed = complete_contracts(con, [(source, contract_id, {
        "status": status, "budget": budget, "planned_milestones": planned_milestones})])
    if failed:
        raise failed[0][1]


def complete_contracts(
    con: duckdb.DuckDBPyConnection, edits: Sequence[tuple[str, str, Mapping[str, object]]],
) -> list[tuple[int, UserError]]:
    """Apply several completions ``(source, contract_id, {field: value})`` in one transaction.

    Each edit is checked on its own (fields left out are kept); the valid ones are written
    together, so the data changes (and the analysis tables are remade) once, however many rows
    the dashboard's table saves. Returns ``(index, error)`` for the edits that were refused.
    """
    failed: list[tuple[int, UserError]] = []
    valid: list[tuple[str, str, tuple]] = []
    for index, (source, contract_id, values) in enumerate(edits):
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise ValueError(f"not a completion field: {', '.join(sorted(unknown))}")
        try:
            checked = _check_values(*(values.get(f, KEEP) for f in FIELDS))
            exists = con.execute("SELECT count(*) FROM contracts WHERE source = ? AND contract_id = ?",
                                 [source, contract_id]).fetchone()[0]
            if not exists:
                raise UserError(f"no contract '{contract_id}' in source '{source}'")
        except UserError as exc:
            failed.append((index, exc))
            continue
        valid.append((source, contract_id, checked))
    if not valid:
        return failed
    with store.transaction(con):
        for source, contract_id, checked in valid:
            current = con.execute(
                "SELECT status, budget, planned_milestones FROM contract_completions WHERE source = ? AND contract_id = ?",
                [source, contract_id],
            ).fetchone() or (None, None, None)
            new = tuple(cur if value is KEEP else value for cur, value in zip(current, checked))
            con.execute("DELETE FROM contract_completions WHERE source = ? AND contract_id = ?", [source, contract_id])
            if any(v is not None for v in new):
                con.execute("INSERT INTO contract_completions VALUES (?, ?, ?, ?, ?, now())", [source, contract_id, *new])
        store.bump_data_version(con)
    return failed


def contradictions(con: duckdb.DuckDBPyConnection, keys: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """What the completions of contracts ``keys`` say that the imported rows contradict, by kind
    (``below``: a budget below what was already paid toward it; ``hourly``: a budget on an hourly
    contract; ``fewer``: fewer planned milestones than the file already holds), each contract
    named with its figures."""
    found: dict[str, list[str]] = {"below": [], "hourly": [], "fewer": []}
    if not keys:
        return found
    kinds = ", ".join(f"'{k}'" for k in TOWARD_BUDGET_KINDS)
    con.execute("CREATE OR REPLACE TEMP TABLE _checked_keys (source VARCHAR, contract_id VARCHAR)")
    con.executemany("INSERT INTO _checked_keys VALUES (?, ?)", [list(k) for k in keys])
    rows = con.execute(
        f"""SELECT v.contract_id, v.contract_type, cc.budget, paid.paid, cc.planned_milestones, v.milestone_rows
            FROM _checked_keys k JOIN contract_view v USING (source, contract_id)
            JOIN contract_completions cc USING (source, contract_id)
            LEFT JOIN (SELECT source, contract_id, sum(gross) AS paid FROM payments
                       WHERE NOT pending AND kind IN ({kinds}) GROUP BY ALL) paid USING (source, contract_id)
            ORDER BY v.contract_id"""
    ).fetchall()
    con.execute("DROP TABLE temp._checked_keys")
    found["below"] = [f"{c} (budget {b:,.2f}, paid {p:,.2f})" for c, t, b, p, _, _ in rows
                      if t == "fixed" and b is not None and p is not None and b < p]
    found["hourly"] = [c for c, t, b, _, _, _ in rows if t == "hourly" and b is not None]
    found["fewer"] = [f"{c} ({n} planned, {m} imported)" for c, _, _, _, n, m in rows if n is not None and n < m]
    return found


def contradiction_warnings(found: Mapping[str, list[str]], limit: int = 3) -> list[str]:
    """``contradictions`` in words, one warning per kind."""
    below, hourly, fewer = found.get("below", []), found.get("hourly", []), found.get("fewer", [])
    warnings = []
    if below:
        warnings.append(f"{plural(len(below), 'contract')} given a budget below what was already paid toward it: "
                        f"{listed(below, limit)}; check the budget")
    if hourly:
        warnings.append(f"a budget given for {plural(len(hourly), 'hourly contract')} ({listed(hourly, limit)}): hourly work "
                        "is not valued by a budget, so it is not used")
    if fewer:
        warnings.append(f"fewer planned milestones than imported for {plural(len(fewer), 'contract')}: {listed(fewer, limit)}; "
                        "the structure follows the larger")
    return warnings


def completion_warnings(con: duckdb.DuckDBPyConnection, keys: Sequence[tuple[str, str]], limit: int = 3) -> list[str]:
    """What the completions of contracts ``keys`` say that the imported rows contradict (saved all
    the same: the user may know better), in words."""
    return contradiction_warnings(contradictions(con, keys), limit)


def standing_contradictions(con: duckdb.DuckDBPyConnection, limit: int = 3) -> list[str]:
    """``completion_warnings`` for every completed contract: what the imported rows contradict now,
    not only at the import or save that made it so (a re-import brings the payments back silently)."""
    keys = con.execute("SELECT source, contract_id FROM contract_completions ORDER BY ALL").fetchall()
    return completion_warnings(con, keys, limit)


def completed_contracts_in_import(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Completed contracts the import being staged brings payments or milestones to (``in_*`` tables)."""
    return con.execute(
        """SELECT DISTINCT source, contract_id FROM (
               SELECT source, contract_id FROM in_payments UNION ALL SELECT source, contract_id FROM in_milestones)
           JOIN contract_completions USING (source, contract_id)"""
    ).fetchall()


def completion_table(con: duckdb.DuckDBPyConnection, source: str | None = None, only_incomplete: bool = False) -> pd.DataFrame:
    """Contracts with what was imported and what the user completed — the dashboard's editable table.

    ``needs_completion`` is true when the effective status is unknown, or a fixed-price
    contract has no budget.
    """
    return con.execute(
        """SELECT v.source, v.contract_id, v.client, v.title, v.platform, v.contract_type, v.structure,
                  v.milestone_rows, v.start_date, c.status AS imported_status, c.budget AS imported_budget,
                  v.status, v.budget, v.planned_milestones,
                  (SELECT coalesce(sum(p.gross), 0) FROM payments p
                   WHERE p.source = v.source AND p.contract_id = v.contract_id AND NOT p.pending) AS paid_gross,
                  (v.status IS NULL OR (v.contract_type = 'fixed' AND v.budget IS NULL)) AS needs_completion
           FROM contract_view v JOIN contracts c USING (source, contract_id)
           WHERE (CAST(? AS VARCHAR) IS NULL OR v.source = ?)
             AND (NOT ? OR v.status IS NULL OR (v.contract_type = 'fixed' AND v.budget IS NULL))
           ORDER BY v.source, v.start_date, v.contract_id""",
        [source, source, only_incomplete],
    ).df()


@uses_prepared
def from_transaction_history(con: duckdb.DuckDBPyConnection, filters: Filters) -> int:
    """How many of the filtered contracts a transaction history brought (``marketplace.from_transaction_history_sql``):
    where they are, contracts cancelled before any payment may be missing (``marketplace.NOT_IN_TRANSACTION_HISTORY``)."""
    sql, params = contracts_sql(filters)
    return con.execute(f"SELECT count(*) FROM ({sql}) c WHERE {from_transaction_history_sql('c')}", params).fetchone()[0]


def count_incomplete(con: duckdb.DuckDBPyConnection, source: str | None = None) -> int:
    """How many contracts analyses cannot place yet (status unknown, or fixed-price without budget)."""
    return con.execute(
        """SELECT count(*) FROM contract_view
           WHERE (CAST(? AS VARCHAR) IS NULL OR source = ?)
             AND (status IS NULL OR (contract_type = 'fixed' AND budget IS NULL))""",
        [source, source],
    ).fetchone()[0]


# --- the completions CSV, as an import format ------------------------------------------

def is_completions(staged: StagedFile) -> bool:
    """``contract_id`` plus status/budget/planned_milestones, and nothing of the template's dates or milestones."""
    return (
        staged.has("contract_id")
        and any(staged.has(f) for f in FIELDS)
        and not any(staged.has(c) for c in ("start_date", "end_date", "seq", "amount", "milestone_amount", "paid_date"))
    )


def stage_completions(con: duckdb.DuckDBPyConnection, staged: StagedFile, ctx) -> None:
    """Validate a completions CSV; it is applied after the merge (its contracts may arrive in the same import)."""
    if not staged.has("contract_id") or not any(staged.has(f) for f in FIELDS):
        raise single_problem(staged.display, 1, None,
                             "a completions file needs contract_id and at least one of status, budget, planned_milestones")
    dc = resolve_decimal_comma(con, staged, ctx.options.decimal_comma, ["budget"])
    text = lambda n: f"nullif(trim({staged.col(n)}), '')"  # noqa: E731
    table = f"_completions_{int(ctx.import_id)}"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT {staged.row_expr} AS _row, {text('contract_id')} AS contract_id, {text('source')} AS source,
                   lower({text('status')}) AS status, {text('status')} AS status_text,
                   {amount_sql(staged.col('budget'), dc)} AS budget, {text('budget')} AS budget_text,
                   {whole_number_sql(staged.col('planned_milestones'))} AS planned_milestones,
                   {text('planned_milestones')} AS planned_text
            FROM {staged.table}"""
    )
    col = lambda n: staged.columns.get(n, n)  # noqa: E731
    checks = [
        ("contract_id IS NULL", "contract_id", "'contract_id is empty'"),
        (f"status IS NOT NULL AND status NOT IN {CONTRACT_STATUSES}", "status",
         f"'unknown status ''' || status_text || ''' (expected one of {', '.join(CONTRACT_STATUSES)})'"),
        ("budget_text IS NOT NULL AND budget IS NULL", "budget", "'cannot read ''' || budget_text || ''' as an amount'"),
        ("budget < 0", "budget", "'budget is negative'"),
        ("planned_text IS NOT NULL AND planned_milestones IS NULL", "planned_milestones",
         "'cannot read ''' || planned_text || ''' as a whole number'"),
        ("planned_milestones < 1", "planned_milestones", "'planned_milestones must be 1 or more'"),
    ]
    for condition, field, message in checks:
        ctx.problems += failing_rows(con, staged.display, col(field), table, condition, message)
    dup = con.execute(
        f"""SELECT contract_id, list(_row ORDER BY _row) FROM {table} WHERE contract_id IS NOT NULL
            GROUP BY contract_id, source HAVING count(*) > 1 ORDER BY min(_row) LIMIT 1"""
    ).fetchone()
    if dup:
        shown = [int(r) for r in dup[1][:5]]
        ctx.problems.append(Problem.naming(
            staged.display, shown[1], col("contract_id"),
            f"contract '{dup[0]}' is completed twice (rows {', '.join(ROW_MARK for _ in shown)})",
            [(staged.display, r) for r in shown]))
    given_source = ctx.source if ctx.source != "completions" else None
    ctx.finishers.append(lambda c: _apply(c, staged.display, table, given_source, col("contract_id"), ctx))


def _apply(con: duckdb.DuckDBPyConnection, display: str, table: str, given_source: str | None, id_column: str,
           ctx) -> list[str]:
    """After the merge: find each row's contract (and source), then record the completions; their
    counts go to ``ctx`` (the import's summary says them), what the imported rows contradict is returned."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _completions_resolved AS
            SELECT t.*, coalesce(t.source, ?) AS wanted,
                   (SELECT list(DISTINCT c.source ORDER BY c.source) FROM contracts c
                    WHERE c.contract_id = t.contract_id AND (coalesce(t.source, ?) IS NULL OR c.source = coalesce(t.source, ?))) AS sources
            FROM {table} t""",
        [given_source, given_source, given_source],
    )
    problems = []
    for row, cid, wanted, sources in con.execute(
        "SELECT _row, contract_id, wanted, sources FROM _completions_resolved WHERE coalesce(len(sources), 0) <> 1 ORDER BY _row LIMIT 20"
    ).fetchall():
        if not sources:
            where = f" in source '{wanted}'" if wanted else ""
            problems.append(Problem(display, int(row), id_column,
                                    f"no contract '{cid}'{where} in the workspace or this import (this file was read as "
                                    "completions of contracts imported before; a file of new contracts needs a "
                                    "start_date column)"))
        else:
            problems.append(Problem(display, int(row), id_column,
                                    f"contract '{cid}' exists in several sources ({', '.join(sources)}): add a source column or use --source"))
    if problems:
        from analysis.errors import ImportValidationError

        raise ImportValidationError(problems)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _completions_new AS
           SELECT r.sources[1] AS source, r.contract_id,
                  coalesce(r.status, cc.status) AS status, coalesce(r.budget, cc.budget) AS budget,
                  coalesce(r.planned_milestones, cc.planned_milestones) AS planned_milestones,
                  cc.contract_id IS NOT NULL AS existed,
                  cc.contract_id IS NOT NULL
                      AND cc.status IS NOT DISTINCT FROM coalesce(r.status, cc.status)
                      AND cc.budget IS NOT DISTINCT FROM coalesce(r.budget, cc.budget)
                      AND cc.planned_milestones IS NOT DISTINCT FROM coalesce(r.planned_milestones, cc.planned_milestones) AS unchanged
           FROM _completions_resolved r
           LEFT JOIN contract_completions cc ON cc.source = r.sources[1] AND cc.contract_id = r.contract_id"""
    )
    changed, unchanged = con.execute("SELECT count(*) FILTER (WHERE NOT unchanged), count(*) FILTER (WHERE unchanged) FROM _completions_new").fetchone()
    replaced = _replaced_completions(con)
    con.execute(
        """DELETE FROM contract_completions cc USING _completions_new n
           WHERE cc.source = n.source AND cc.contract_id = n.contract_id AND NOT n.unchanged"""
    )
    # Dated by the import (now(): its transaction's start, as its log row), a completion it changed one
    # microsecond later: removing the import takes the completions it made, not those it changed, which
    # stay as it set them as updated rows do (``workspace_admin.remove_import``; the older values are not kept).
    con.execute(
        """INSERT INTO contract_completions
           SELECT source, contract_id, status, budget, planned_milestones,
                  CASE WHEN existed THEN now() + INTERVAL 1 MICROSECOND ELSE now() END
           FROM _completions_new WHERE NOT unchanged"""
    )
    keys = con.execute("SELECT source, contract_id FROM _completions_new WHERE NOT unchanged").fetchall()
    con.execute(f"DROP TABLE IF EXISTS {table}")
    ctx.completed += changed
    ctx.completed_already += unchanged
    return replaced + completion_warnings(con, keys)


def _replaced_completions(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What is said of earlier completions whose values this file changes (``_completions_new`` against the
    stored ones; filling a value left empty changes none): a user's own values are never changed
    without a word, even by a newer file of theirs."""
    n, cid, before, after = con.execute(
        """WITH c AS (
               SELECT n.contract_id,
                      concat_ws(', ', 'status ' || coalesce(o.status, 'empty'), 'budget ' || coalesce(format('{:,.2f}', o.budget), 'empty'),
                                'planned milestones ' || coalesce(o.planned_milestones::VARCHAR, 'empty')) AS before,
                      concat_ws(', ', 'status ' || coalesce(n.status, 'empty'), 'budget ' || coalesce(format('{:,.2f}', n.budget), 'empty'),
                                'planned milestones ' || coalesce(n.planned_milestones::VARCHAR, 'empty')) AS after
               FROM _completions_new n JOIN contract_completions o USING (source, contract_id)
               WHERE o.status <> n.status OR o.budget <> n.budget OR o.planned_milestones <> n.planned_milestones)
           SELECT count(*), min(contract_id), arg_min(before, contract_id), arg_min(after, contract_id) FROM c"""
    ).fetchone()
    if not n:
        return []
    return [f"replaced {plural(n, 'earlier completion')} (first: contract '{cid}', {before}; now {after})"]
