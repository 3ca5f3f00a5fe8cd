"""The canonical CSV template (SPEC.md): contracts.csv, milestones.csv, or one flat file.

A reader turns one staged file (text columns) into rows of the typed input tables
``in_contracts`` / ``in_milestones``; ``importing`` does everything common afterwards.
"""

from __future__ import annotations

import duckdb

from analysis.errors import ROW_MARK, ImportValidationError, Problem, single_problem, warning_row, with_unlisted
from analysis.locale import decimal_mark_sql, resolve_decimal_comma
from analysis.parsing import (
    ISO_4217, ISO_4217_SQL, StagedFile, amount_problem_sql, amount_sql, date_problem_sql, date_sql, detect_day_first, first_problems, materialize,
    NO_CURRENCY_CODE, currency_code_sql, currency_letters_sql, not_a_currency_sql, numeric_date_sql, other_currency_sql, read_failure, whole_number_sql,
)
from analysis.wording import listed, plural

CONTRACT_STATUSES = ("completed", "cancelled", "disputed", "active")
MILESTONE_STATUSES = ("pending", "funded", "submitted", "paid", "refunded", "cancelled")
CONTRACT_TYPES = ("fixed", "hourly")

CONTRACT_FIELDS = (
    "contract_id", "client", "freelancer", "title", "category", "platform", "contract_type",
    "budget", "currency", "start_date", "planned_end_date", "end_date", "status",
    "milestone_count", "paid_total",
)
MILESTONE_FIELDS = (
    "contract_id", "seq", "description", "amount", "due_date", "funded_date", "submitted_date",
    "paid_date", "paid_amount", "fee", "status",
)
# Every amount column of a file decides its decimal mark together (analysis.locale).
AMOUNT_FIELDS = ("budget", "paid_total", "amount", "milestone_amount", "paid_amount", "fee")
CONTRACT_DATES = ("start_date", "planned_end_date", "end_date")
MILESTONE_DATES = ("due_date", "funded_date", "submitted_date", "paid_date")
# Spellings users write for the template's fields.
ALIASES = {
    "id": "contract_id", "contract": "contract_id", "contract_no": "contract_id",
    "milestone": "seq", "milestone_seq": "seq", "milestone_no": "seq", "sequence": "seq",
    "milestone_amount": "amount", "type": "contract_type", "start": "start_date",
    "end": "end_date", "planned_end": "planned_end_date", "due": "due_date",
    "milestone_status": "milestone_status", "contract_status": "status",
}


def role_of(staged: StagedFile) -> str | None:
    """Which part of the template a file is: 'contracts', 'milestones', 'flat', or None."""
    has = staged.has
    contract_side = has("contract_id") and (has("start_date") or has("budget") or (has("status") and not has("seq")))
    milestone_side = has("contract_id") and has("seq") and (has("amount") or has("milestone_amount"))
    if contract_side and milestone_side:
        return "flat"
    if milestone_side:
        return "milestones"
    if contract_side:
        return "contracts"
    return None


def apply_aliases(staged: StagedFile) -> None:
    for alias, field in ALIASES.items():
        if alias in staged.columns and field not in staged.columns:
            staged.columns[field] = staged.columns.pop(alias)


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _text(staged: StagedFile, name: str) -> str:
    return f"nullif(trim({staged.col(name)}), '')"


def _currency_sql(staged: StagedFile) -> str:
    """A row's currency: its own, upper case, or the template's default."""
    return f"coalesce(upper({_text(staged, 'currency')}), 'USD')"


def _other_currency_message(staged: StagedFile, column: str, currency: str) -> str:
    """SQL for the message of an amount marked in another currency than its row's."""
    cell = _text(staged, column)
    whose = (f"CASE WHEN {_text(staged, 'currency')} IS NULL THEN 'the default for a row without a currency' "
             "ELSE 'the row''s currency' END")
    return (f"CASE WHEN {not_a_currency_sql(cell)} THEN 'cannot read ''' || {cell} || ''' as an amount: ''' || "
            f"{currency_letters_sql(cell, upper=False)} || ''' {NO_CURRENCY_CODE}' "
            f"ELSE '{column} ''' || {cell} || ''' is in another currency than ' || {currency} || ', ' || "
            f"{whose} || ': amounts are never converted; give the row the amount''s currency' END")


def _require(staged: StagedFile, names: tuple[str, ...]) -> None:
    missing = [n for n in names if not staged.has(n)]
    if missing and staged.mapping is not None:  # the columns are the mapping's names: say what the file has
        header = staged.file_header
        raise single_problem(
            staged.display, 1, None,
            f"{f'the mapping {staged.mapping!r}' if staged.mapping else 'the column mapping'} gives no column for {missing[0]}, which this file needs: map one of "
            f"its columns to {missing[0]} or give the mapping a default for it (the header has: {', '.join(header)})")
    if missing:
        raise single_problem(
            staged.display, 1, missing[0],
            f"required column '{missing[0]}' is missing (the header has: {', '.join(staged.columns)})",
        )


def _parse_checks(staged: StagedFile, specs: list[tuple[str, str, str]],
                  day_first: bool | None = None, decimal_comma: bool = False) -> list[tuple[str, str, str]]:
    """``specs``: (field, typed expression, what it should be). Checks (condition, column,
    message) for cells that do not parse, to run with ``_failing_checks``."""
    checks: list[tuple[str, str, str]] = []
    for field, expr, what in specs:
        if not staged.has(field):
            continue
        raw = staged.col(field)
        checks.append((
            f"nullif(trim({raw}), '') IS NOT NULL AND ({expr}) IS NULL", staged.columns[field],
            date_problem_sql(raw, day_first) if what == "a date"
            else amount_problem_sql(raw, decimal_comma) if what == "an amount"
            else f"'cannot read ''' || {raw} || ''' as {what}'",
        ))
    return checks


def _typed_with_checks(con, staged: StagedFile, table: str, typed: dict[str, str],
                       checks: list[tuple[str, str, str]], target: str | None = None,
                       fixed: dict[str, str] | None = None) -> list[Problem]:
    """Create ``table`` (``_row`` and the ``typed`` columns) and evaluate every check in the same scan.

    Whether a row fails any check is a boolean column computed next to the typed values, so
    every cell is parsed once (DuckDB shares the common expressions); which checks fail, and
    the queries that name rows, run only when some row failed. Returns the problems, in check order.

    With ``target`` (an ``in_*`` table), ``table`` holds that table's columns first, in its
    order and types (``fixed``: SQL for the columns that are not ``typed``), so that
    ``_append_typed`` can make it the target itself instead of copying it.
    """
    select = _typed_select(con, typed, target, fixed, staged.row_expr)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select}, {_any_fails(checks)} AS _bad FROM {staged.table}")
    if not checks or not con.execute(f"SELECT bool_or(_bad) FROM {table}").fetchone()[0]:
        return []
    return _failing_checks(con, staged, checks)


def _typed_select(con, typed: dict[str, str], target: str | None, fixed: dict[str, str] | None, row_expr: str) -> str:
    """The select list of ``_typed_with_checks``: ``target``'s columns in its order and types, or ``_row`` and ``typed``."""
    if target is None:
        return f"{row_expr} AS _row, " + ", ".join(f"{expr} AS {name}" for name, expr in typed.items())
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' "
        "AND database_name = 'temp' AND table_name = ? ORDER BY column_index", [target]
    ).fetchall()
    exprs = {**typed, **(fixed or {}), "_row": row_expr}
    return ", ".join(f"CAST({exprs[name]} AS {kind}) AS {name}" for name, kind in columns)


def _any_fails(checks: list[tuple[str, str, str]]) -> str:
    # One flag for all checks (a column per check made the table a third wider); which checks
    # fail is worked out from the staged text only when some row fails one.
    # ``IS TRUE``, not ``coalesce(cond, false)``: DuckDB does not share the typed expressions the select
    # list already computes with those under a COALESCE or CASE (100k milestones: 0.4 s of parsing again).
    return " OR ".join(f"(({cond}) IS TRUE)" for cond, _, _ in checks) or "false"


def _typed_in_one_pass(con, staged: StagedFile, table: str, typed: dict[str, str], checks: list[tuple[str, str, str]],
                       target: str, fixed: dict[str, str], undecided: str) -> bool:
    """``_typed_with_checks`` straight from a lazily staged file; False (and ``table`` to drop)
    when some row fails a check or is ``undecided``. Rows are numbered after the read: the
    table keeps file order, as the staged text does."""
    select = _typed_select(con, typed, target, fixed, "NULL")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select}, "
                f"({_any_fails(checks)}) OR ({undecided}) AS _bad FROM {staged.source_sql}")
    rows, failed, base = con.execute(f"SELECT count(*), coalesce(bool_or(_bad), false), min(rowid) FROM {table}").fetchone()
    if failed or not rows:
        return False
    con.execute(f"UPDATE {table} SET _row = rowid - {int(base)} + 2")
    staged.rows = rows
    return True


def _typed_or_problems(con, staged: StagedFile, ctx, table: str, target: str, make_sql) -> dict[str, str] | None:
    """Make ``table`` (the typed rows of ``target``, see ``_typed_with_checks``): the typed
    expressions ``make_sql(staged, ctx, day_first, decimal_comma)`` gives. None when some row
    failed a check (the problems are in ``ctx.problems``).

    A lazily staged file (``parsing.stage_csv(lazy=True)``) is first typed in one pass straight
    from the file, guessing that its dates and amounts need no deciding. That holds when no row
    fails a check and no cell could tell day/month order or a decimal comma apart
    (``numeric_date_sql``, ``decimal_mark_sql``: what the detectors decide from); otherwise the file is
    staged as text and read as always, so messages and decisions never depend on the guess
    (1M milestones: ~1 s less, the text copy of the file is never made).
    """
    dates, amounts = list(CONTRACT_DATES) + list(MILESTONE_DATES), list(AMOUNT_FIELDS)
    if staged.lazy:
        if ctx.role != "flat":  # the flat file's two readers share one staged table
            day_first = ctx.options.day_first
            dc = bool(ctx.options.decimal_comma)
            typed, pending, fixed = make_sql(staged, ctx, day_first, dc)
            undecided = []
            if ctx.options.day_first is None:
                undecided += [numeric_date_sql(staged.col(c)) for c in dates if staged.has(c)]
            if ctx.options.decimal_comma is None:
                undecided += [decimal_mark_sql(staged.col(c)) for c in amounts if staged.has(c)]
            if target == "in_milestones" and not staged.has("currency"):  # see ``_amounts_marked_in_a_currency``
                undecided += [currency_mark_sql(staged.col(c)) for c in MILESTONE_MONEY if staged.has(c)]
            guess = " OR ".join(f"coalesce({u}, false)" for u in undecided) or "false"
            try:
                read = _typed_in_one_pass(con, staged, table, typed, pending, target, fixed, guess)
            except (UnicodeError, duckdb.Error) as exc:  # a malformed row: it ends the transaction
                raise read_failure(staged, exc) from None
            if read:
                return typed
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")
        materialize(con, staged)
    day_first = ctx.options.day_first
    if day_first is None:
        day_first = detect_day_first(con, staged, dates)
    dc = resolve_decimal_comma(con, staged, ctx.options.decimal_comma, amounts)
    typed, pending, fixed = make_sql(staged, ctx, day_first, dc)
    problems = _typed_with_checks(con, staged, table, typed, pending, target, fixed)
    if problems:
        ctx.problems.extend(problems)
        return None
    return typed


def _append_typed(con, table: str, target: str) -> None:
    """Append ``table`` (made by ``_typed_with_checks`` with ``target``) to ``target``.

    When ``target`` is still empty (the first file of its kind in the batch), ``table`` becomes
    ``target``: renamed, its check column dropped (1M milestones: ~0.7 s of copying less).
    """
    names = [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' AND database_name = 'temp' "
        "AND table_name = ? ORDER BY column_index", [target]).fetchall()]
    if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {target} LIMIT 1)").fetchone()[0]:
        con.execute(f"INSERT INTO {target} SELECT {', '.join(names)} FROM {table}")
        return
    con.execute(f"DROP TABLE temp.{target}")
    con.execute(f"ALTER TABLE temp.{table} RENAME TO {target}")
    con.execute(f"ALTER TABLE temp.{target} DROP COLUMN _bad")


def _failing_checks(con, staged: StagedFile, checks: list[tuple[str, str, str]]) -> list[Problem]:
    """Problems for the rows failing each (condition, column, message) check, in check order.

    One scan counts the failures of every check; the queries that name rows run only for
    the checks that failed (a scan per check made a 1M-contract import seconds slower).
    """
    if not checks:
        return []
    failing = con.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {cond})" for cond, _, _ in checks) + f" FROM {staged.table}"
    ).fetchone()
    problems: list[Problem] = []
    for (cond, column, msg), n in zip(checks, failing):
        if n:
            problems += first_problems(con, staged, cond, column, msg)
    return problems


def _contract_sql(staged: StagedFile, ctx, day_first: bool | None, dc: bool):
    """The contract columns' typed expressions, their checks and the fixed columns, for ``_typed_or_problems``."""
    t = lambda n: _text(staged, n)  # noqa: E731
    typed = {
        "contract_id": t("contract_id"),
        "client": t("client"), "freelancer": t("freelancer"), "title": t("title"),
        "category": t("category"), "platform": f"lower({t('platform')})",
        "contract_type": f"coalesce(lower({t('contract_type')}), 'fixed')",
        "budget": amount_sql(staged.col("budget"), dc),
        "currency": _currency_sql(staged),
        "start_date": date_sql(staged.col("start_date"), day_first),
        "planned_end_date": date_sql(staged.col("planned_end_date"), day_first),
        "end_date": date_sql(staged.col("end_date"), day_first),
        "status": f"lower({t('status')})",
        "milestone_count": whole_number_sql(staged.col("milestone_count")),
        "paid_total": amount_sql(staged.col("paid_total"), dc),
    }
    pending = _parse_checks(staged, [
        ("budget", typed["budget"], "an amount"),
        ("paid_total", typed["paid_total"], "an amount"),
        ("start_date", typed["start_date"], "a date"),
        ("planned_end_date", typed["planned_end_date"], "a date"),
        ("end_date", typed["end_date"], "a date"),
        ("milestone_count", typed["milestone_count"], "a whole number"),
    ], day_first, dc)
    cols = staged.columns
    checks = [
        (f"{t('contract_id')} IS NULL", "contract_id", "'contract_id is empty'"),
        (f"{t('start_date')} IS NULL", "start_date", "'start_date is empty'"),
        (f"{t('status')} IS NULL", "status", "'status is empty (one of " + ", ".join(CONTRACT_STATUSES) + ")'"),
        (f"{typed['status']} NOT IN {CONTRACT_STATUSES}", "status",
         f"'unknown status ''' || {t('status')} || ''' (expected one of {', '.join(CONTRACT_STATUSES)})'"),
        (f"{typed['contract_type']} NOT IN {CONTRACT_TYPES}", "contract_type",
         f"'unknown contract_type ''' || {t('contract_type')} || ''' (expected fixed or hourly)'"),
        (f"NOT {currency_code_sql(typed['currency'])}", "currency",
         f"'currency ''' || {typed['currency']} || ''' is not a three-letter ISO code'"),
        (f"{typed['budget']} < 0", "budget", "'budget is negative'"),
        *[(f"{typed[money]} IS NOT NULL AND {other_currency_sql(t(money), typed['currency'])}", money,
           _other_currency_message(staged, money, typed["currency"]))
          for money in ("budget", "paid_total")],
        (f"{typed['contract_type']} = 'fixed' AND {t('budget')} IS NULL", "budget",
         "'budget is required for fixed-price contracts'"),
        (f"{typed['end_date']} < {typed['start_date']}", "end_date", "'end_date is before start_date'"),
        (f"{typed['planned_end_date']} < {typed['start_date']}", "planned_end_date",
         "'planned_end_date is before start_date'"),
        (f"{typed['milestone_count']} < 0", "milestone_count", "'milestone_count is negative'"),
    ]
    for cond, field, msg in checks:
        if field not in ("contract_id", "start_date", "status", "budget") and not staged.has(field):
            continue
        if field == "budget" and not staged.has("budget") and "fixed" not in cond:
            continue
        if "fixed" in cond and not staged.has("contract_type"):
            # No type in the file: a contract already in the workspace keeps its own, which
            # ``importing._keep_what_files_leave_out`` fills in and checks; here only new ones.
            cond += (f" AND NOT EXISTS (SELECT 1 FROM main.contracts w WHERE w.source = {_sql_str(ctx.source)} "
                     f"AND w.contract_id = {t('contract_id')})")
        column = cols.get(field, field)
        pending.append((f"coalesce({cond}, false)", column, msg))
    # The template's start_date is the real start (a transaction history only estimates it).
    fixed = {"source": _sql_str(ctx.source), "start_estimated": "false", "_import_id": str(int(ctx.import_id)),
             "_file": _sql_str(staged.display)}
    return typed, pending, fixed


def stage_contracts(con, staged: StagedFile, ctx) -> None:
    """Validate the contract columns of ``staged`` and append them to ``in_contracts``."""
    _require(staged, ("contract_id", "start_date", "status"))
    typed = _typed_or_problems(con, staged, ctx, "_typed_c", "in_contracts", _contract_sql)
    if typed is None:
        return
    cols = staged.columns
    if ctx.role == "flat":
        # Contract columns are repeated on each milestone row: they must agree.
        bad = con.execute(
            f"""SELECT contract_id, min(_row) FILTER (WHERE rn > 1) FROM (
                  SELECT *, dense_rank() OVER (PARTITION BY contract_id ORDER BY
                    {', '.join(n for n in typed if n != 'contract_id')}) AS rn FROM _typed_c)
                GROUP BY contract_id HAVING max(rn) > 1 ORDER BY 2 LIMIT 1"""
        ).fetchone()
        if bad:
            names = [n for n in typed if n != "contract_id"]
            first_row = con.execute("SELECT min(_row) FROM _typed_c WHERE contract_id = ?", [bad[0]]).fetchone()[0]
            pair = con.execute(
                f"SELECT {', '.join(names)} FROM _typed_c WHERE _row IN (?, ?) ORDER BY _row", [first_row, bad[1]]
            ).fetchall()
            field = next(n for n, a, b in zip(names, *pair) if a != b)
            ctx.problems.append(Problem.naming(
                staged.display, int(bad[1]), cols.get(field, field),
                f"contract '{bad[0]}' has a different {field} here than on row {ROW_MARK} (a flat file repeats "
                "the contract's details on every row of it)", [(staged.display, int(first_row))]))
            return
        con.execute("CREATE OR REPLACE TEMP TABLE _typed_c AS SELECT * FROM _typed_c QUALIFY row_number() OVER (PARTITION BY contract_id ORDER BY _row) = 1")
    else:
        # The cheap test first: the row lists are built only when some id repeats.
        dup = con.execute("SELECT 1 FROM _typed_c GROUP BY hash(contract_id) HAVING count(*) > 1 LIMIT 1").fetchone() and con.execute(
            "SELECT contract_id, list(_row ORDER BY _row) FROM _typed_c GROUP BY contract_id HAVING count(*) > 1 ORDER BY min(_row) LIMIT 1"
        ).fetchone()
        if dup:
            rows = [(staged.display, int(r)) for r in dup[1][:5]]
            ctx.problems.append(Problem.naming(staged.display, int(dup[1][1]), cols["contract_id"],
                                               f"contract_id '{dup[0]}' appears more than once (rows "
                                               f"{', '.join(ROW_MARK for _ in rows)})", rows))
            return
    ctx.absent["in_contracts"] = [n for n in typed if not staged.has(n)]
    ctx.warnings += _doubtful_contracts(con)
    _append_typed(con, "_typed_c", "in_contracts")


def _milestone_sql(staged: StagedFile, ctx, day_first: bool | None, dc: bool):
    """The milestone columns' typed expressions, their checks and the fixed columns, for ``_typed_or_problems``."""
    t = lambda n: _text(staged, n)  # noqa: E731
    status_field = "milestone_status" if ctx.role == "flat" else "status"
    typed = {
        "contract_id": t("contract_id"),
        "seq": whole_number_sql(staged.col("seq")),
        "description": t("description"),
        "amount": amount_sql(staged.col("amount"), dc),
        "due_date": date_sql(staged.col("due_date"), day_first),
        "funded_date": date_sql(staged.col("funded_date"), day_first),
        "submitted_date": date_sql(staged.col("submitted_date"), day_first),
        "paid_date": date_sql(staged.col("paid_date"), day_first),
        "paid_amount": amount_sql(staged.col("paid_amount"), dc),
        "fee": amount_sql(staged.col("fee"), dc),
        "status": f"lower({t(status_field)})",
    }
    pending = _parse_checks(staged, [
        ("seq", typed["seq"], "a whole number"),
        ("amount", typed["amount"], "an amount"),
        ("paid_amount", typed["paid_amount"], "an amount"),
        ("fee", typed["fee"], "an amount"),
        *[(d, typed[d], "a date") for d in MILESTONE_DATES],
    ], day_first, dc)
    cols = staged.columns
    currency = _currency_sql(staged)
    # A flat file's row with every milestone cell empty is a contract without milestones (one
    # cancelled before any, say): not a milestone missing its seq and amount.
    has_milestone = (" OR ".join(f"{t(n)} IS NOT NULL" for n in (*MILESTONE_FIELDS[1:-1], status_field))
                     if ctx.role == "flat" else "true")
    checks = [
        (f"{t('contract_id')} IS NULL", "contract_id", "'contract_id is empty'"),
        (f"{t('seq')} IS NULL AND ({has_milestone})", "seq", "'seq is empty'"),
        (f"{typed['seq']} < 1", "seq", "'seq must be 1 or more'"),
        (f"{t('amount')} IS NULL AND ({has_milestone})", "amount", "'amount is empty'"),
        (f"{typed['amount']} < 0", "amount", "'amount is negative'"),
        (f"{typed['paid_amount']} < 0", "paid_amount", "'paid_amount is negative'"),
        # A fee is what the platform took: written negative (say "(40.00)") it would make net exceed gross.
        (f"{typed['fee']} < 0", "fee", "'fee is negative (write the fee the platform took as a positive amount)'"),
        # ... and taken from this payment: more than was paid (paid_amount, else the amount it defaults to)
        # would make net negative. Freelancer.com's $5 minimum on a $3 milestone comes through its own reader.
        # (Not ``coalesce(paid_amount, amount)``: the typed amounts under it would be parsed again, see ``_any_fails``.)
        (f"({typed['fee']} > {typed['paid_amount']} OR ({typed['paid_amount']} IS NULL AND {typed['fee']} > {typed['amount']}))",
         "fee",
         f"'fee ' || {typed['fee']} || ' is more than the ' || CASE WHEN {typed['paid_amount']} IS NOT NULL "
         f"THEN 'paid_amount ' || {typed['paid_amount']} ELSE 'amount ' || {typed['amount']} END || "
         "' it was taken from (the fee is what the platform kept of this payment, not a rate or a total)'"),
        # A milestones file with its own currency column (a flat file repeats the contract's); in a
        # file without one the contract's currency is in another file.
        *[(f"{typed[money]} IS NOT NULL AND {other_currency_sql(t(money), currency)}", money,
           _other_currency_message(staged, money, currency))
          for money in ("amount", "paid_amount", "fee") if staged.has("currency")],
        (f"{typed['status']} NOT IN {MILESTONE_STATUSES}", status_field,
         f"'unknown milestone status ''' || {t(status_field)} || ''' (expected one of {', '.join(MILESTONE_STATUSES)})'"),
        (f"{typed['paid_date']} < {typed['submitted_date']}", "paid_date", "'paid_date is before submitted_date'"),
    ]
    for cond, field, msg in checks:
        if field not in ("contract_id", "seq", "amount") and not staged.has(field):
            continue
        pending.append((f"coalesce({cond}, false)", cols.get(field, field), msg))
    fixed = {"source": _sql_str(ctx.source), "kind": "'milestone'", "_import_id": str(int(ctx.import_id)),
             "_file": _sql_str(staged.display)}
    return typed, pending, fixed


def stage_milestones(con, staged: StagedFile, ctx) -> None:
    """Validate the milestone columns of ``staged`` and append them to ``in_milestones``."""
    if "amount" not in staged.columns and "milestone_amount" in staged.columns:
        staged.columns["amount"] = staged.columns["milestone_amount"]
    _require(staged, ("contract_id", "seq", "amount"))
    typed = _typed_or_problems(con, staged, ctx, "_typed_m", "in_milestones", _milestone_sql)
    if typed is None:
        return
    cols = staged.columns
    if ctx.role == "flat":  # rows of contracts without milestones (the checks let only those through without a seq)
        con.execute("DELETE FROM _typed_m WHERE seq IS NULL")
    # The cheap test first: the row lists are built only when some milestone repeats (1M contracts: 1.3 s -> 0.45 s).
    # Grouping by a hash of the key is cheaper; a hash shared by different keys only costs the exact query.
    dup = con.execute("SELECT 1 FROM _typed_m GROUP BY hash(contract_id, seq) HAVING count(*) > 1 LIMIT 1").fetchone() and con.execute(
        "SELECT contract_id, seq, list(_row ORDER BY _row) FROM _typed_m GROUP BY contract_id, seq HAVING count(*) > 1 ORDER BY min(_row) LIMIT 1"
    ).fetchone()
    if dup:
        ctx.problems.append(Problem(staged.display, int(dup[2][1]), cols["seq"],
                                    f"milestone {dup[1]} of contract '{dup[0]}' appears more than once"))
        return
    status_field = "milestone_status" if ctx.role == "flat" else "status"
    ctx.warnings += _doubtful_payments(con)
    if not staged.has("currency") and not staged.lazy:  # read in one pass from the file: no cell is marked
        _amounts_marked_in_a_currency(con, staged, ctx)
    ctx.absent["in_milestones"] = [n for n in typed if not staged.has(status_field if n == "status" else n)]
    _append_typed(con, "_typed_m", "in_milestones")


#: A milestone's money columns: an amount marked in a currency (``£100``) must be in its contract's.
MILESTONE_MONEY = ("amount", "paid_amount", "fee")


def currency_mark_sql(expr: str) -> str:
    """SQL: the amount text ``expr`` carries more than digits, signs and separators (a currency mark,
    perhaps): a character other than digits, ``.,+-()``, a space, ``$`` or ``'``. Cheap, for the one-pass read's
    test of whether the file must be staged as text (a regular expression: ``trim`` with those characters took
    ten times as long)."""
    return f"regexp_matches({expr}, '[^0-9.,+() $'' -]')"


def _amounts_marked_in_a_currency(con, staged: StagedFile, ctx) -> None:
    """A milestones file without a currency column whose amounts name one (``£100``): refused, naming
    the row, when that is not the contract's currency, as in a file with the column (amounts are never
    converted). The contract's currency is known once every file is merged, so the check finishes then."""
    marked = " UNION ALL ".join(
        f"SELECT {staged.row_expr} AS _row, {_text(staged, 'contract_id')} AS contract_id, '{money}' AS field, "
        f"{_text(staged, money)} AS cell FROM {staged.table} WHERE regexp_matches({_text(staged, money)}, '[A-Za-z£€₹¥]')"
        for money in MILESTONE_MONEY if staged.has(money))
    table = f"_marked_{int(ctx.import_id)}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {marked}")
    if not con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]:
        con.execute(f"DROP TABLE temp.{table}")
        return
    display, source, columns = staged.display, ctx.source, dict(staged.columns)

    def check(con) -> list[str]:
        found = con.execute(
            f"""SELECT m._row, m.field, m.cell, c.contract_id, c.currency,
                       CASE WHEN regexp_matches(m.cell, '[A-Za-z]{{3}}') THEN {currency_letters_sql('m.cell', upper=False)} END,
                       count(*) OVER () FROM {table} m
                JOIN contracts c ON c.source = ? AND c.contract_id = m.contract_id
                WHERE {other_currency_sql('m.cell', 'c.currency')} ORDER BY m._row LIMIT 20""", [source]).fetchall()
        con.execute(f"DROP TABLE temp.{table}")
        if found:
            raise ImportValidationError(with_unlisted([
                Problem(display, int(row), columns.get(field, field),
                        f"cannot read '{cell}' as an amount: '{letters}' {NO_CURRENCY_CODE}" if letters and letters.upper() not in ISO_4217 else
                        f"{field} '{cell}' is in another currency than its contract's ('{contract}', {currency}): "
                        "amounts are never converted; give the contract the amount's currency (or write the amount "
                        "without it)")
                for row, field, cell, contract, currency, letters, _ in found], found[0][-1]))
        return []

    ctx.finishers.append(check)


def _rows_that_disagree(con, table: str, checks: list[tuple[str, str, str, str]]) -> list[str]:
    """Rows of ``table`` whose columns disagree, imported as they are but named, in one scan: for
    each (condition, noun, what, consequence) that some row meets, "N nouns what (first: row R):
    consequence"."""
    found = con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {c}), min(_row) FILTER (WHERE {c})"
                                              for c, _, _, _ in checks) + f" FROM {table}").fetchone()
    return [f"{plural(found[2 * i], noun)} {what} (first: {warning_row(found[2 * i + 1])}): {consequence}"
            for i, (_, noun, what, consequence) in enumerate(checks) if found[2 * i]]


def _doubtful_contracts(con) -> list[str]:
    """Contracts whose status and dates disagree about where they stand."""
    return _rows_that_disagree(con, "_typed_c", [
        ("status = 'active' AND end_date IS NOT NULL", "contract", "marked active with an end_date",
         "counted as active; if it ended, give its status (completed, cancelled or disputed)"),
        ("status <> 'active' AND start_date > current_date", "contract", "finished but starting after today",
         "imported as written; check the start_date"),
        (f"currency NOT IN ({ISO_4217_SQL})", "contract",
         "in a currency ISO 4217 does not list", "imported as written and reported apart from the other currencies; "
         "check the code for a typing slip"),
    ])


def _doubtful_payments(con) -> list[str]:
    """Milestones whose columns disagree about a payment."""
    return _rows_that_disagree(con, "_typed_m", [
        ("status = 'paid' AND paid_date IS NULL", "milestone", "paid without a paid_date",
         "counted as paid, but left out of payment timing; add the date the money arrived"),
        ("paid_date IS NOT NULL AND status NOT IN ('paid', 'refunded')", "milestone",
         "with a paid_date but a status other than paid",
         "not counted as paid; leave the status empty to have it read from the dates"),
        ("paid_amount > amount", "milestone", "paid more than the milestone's amount",
         "counted as paid; check it is not a typing slip"),
    ])


def _columns_kept_aside(staged: StagedFile, role: str) -> list[str]:
    """What is said of the columns a file of this role does not read: those not in the template, and
    template columns of the other part (a contracts file's fee or due_date: without seq and amount it
    holds no milestones), which were dropped without a word."""
    template = set(CONTRACT_FIELDS) | set(MILESTONE_FIELDS) | {"milestone_status", "milestone_amount"}
    read = {"contracts": set(CONTRACT_FIELDS), "milestones": {*MILESTONE_FIELDS, "currency"},
            "flat": template}[role]
    shown = lambda real: repr(staged.labels.get(real, real))  # noqa: E731  (a mapped column by the file's own header)
    extra = [shown(real) for key, real in staged.columns.items() if key not in template]
    other = [shown(real) for key, real in staged.columns.items() if key in template and key not in read]
    warnings = []
    if extra:
        warnings.append(f"{plural(len(extra), 'column')} not in the template ({listed(extra, 5)}): kept aside, not imported")
    if other:
        why = ("a contracts file (one row per contract: it has no seq and amount for milestones)" if role == "contracts"
               else "a milestones file (one row per milestone: it has no start_date or budget for contracts)")
        warnings.append(f"{plural(len(other), 'column')} of the template's other file ({listed(other, 5)}) in {why}: "
                        "kept aside, not imported")
    return warnings


def stage_canonical(con, staged: StagedFile, ctx) -> None:
    """Read one canonical-template file, whichever part of the template it is."""
    apply_aliases(staged)
    role = role_of(staged)
    if role is None:
        raise single_problem(
            staged.display, 1, None,
            "not a contracts or milestones file of the template: it needs contract_id and either "
            "start_date/status (contracts) or seq/amount (milestones)",
        )
    ctx.role = role
    if role == "milestones" and staged.has("milestone_status") and not staged.has("status"):
        staged.columns["status"] = staged.columns.pop("milestone_status")  # a milestones file: its status is the milestone's
    ctx.warnings += _columns_kept_aside(staged, role)
    if role in ("contracts", "flat"):
        stage_contracts(con, staged, ctx)
    if role in ("milestones", "flat"):
        stage_milestones(con, staged, ctx)
    ctx.derive_payments_from_milestones = True
