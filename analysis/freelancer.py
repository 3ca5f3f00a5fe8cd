"""Freelancer.com transaction exports.

The real header names are not published, so columns are found by name, then by content
(a column of texts like ``Done milestone payment from …`` is the description, one of
three-letter codes the currency, …), then by position (date, description, currency,
amount, tax). Milestone payments read ``Done milestone payment from <client> for project
<title> (<note>) (<CUR>)``; fees ``Project fee taken (<title>) (<CUR>)`` and are added to the
payment of that project at the same time (else the nearest one before). One currency per
file. Rows carry no transaction id: a payment is keyed by its time, amount, text and
occurrence, which every export of the same account repeats identically.
"""

from __future__ import annotations

import re

from analysis import marketplace
from analysis.errors import Problem, single_problem
from analysis.locale import resolve_day_first, resolve_decimal_comma
from analysis.parsing import StagedFile, amount_sql, date_sql, quote_ident, timestamp_sql
from analysis.wording import plural

FIELDS = ("date", "description", "currency", "amount", "tax")
NAMES = {
    "date": ("date", "date_time", "datetime", "transaction_date", "time", "date_created", "created"),
    "description": ("description", "details", "transaction", "transaction_details", "memo", "narration"),
    "currency": ("currency", "currency_code"),
    "amount": ("amount", "value", "amount_usd", "net_amount", "total"),
    "tax": ("tax", "vat", "gst", "tax_amount"),
}
MILESTONE_RE = r"(?i)milestone payment from (.+?) for project (.+?)(?: \(([^()]*)\))?(?: \(([A-Z]{3})\))?\s*$"
FEE_RE = r"(?i)project fee taken \((.+?)\)(?: \(([A-Z]{3})\))?\s*$"
SIGNATURE_RE = re.compile(r"(?i)milestone payment from .+ for project|project fee taken \(")
_DATE_LIKE = re.compile(r"^\s*(\d{1,2}[ /.\-][A-Za-z]{3}[ /.\-]\d{4}|\d{4}-\d{2}-\d{2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|[A-Za-z]{3} \d{1,2},? \d{4})")
_AMOUNT_LIKE = re.compile(r"^\s*[+\-(]?\s*[$€£]?\s*\d[\d.,' \u00a0]*\)?\s*$")
_CURRENCY_LIKE = re.compile(r"^[A-Z]{3}$")


def match_columns(staged: StagedFile) -> dict[str, str | None]:
    """Normalized column for each field: by name, then by content of the sample rows, then by position."""
    found: dict[str, str | None] = {f: next((n for n in NAMES[f] if staged.has(n)), None) for f in FIELDS}
    free = [c for c in staged.columns if c not in found.values()]

    def share(column: str, pattern: re.Pattern) -> float:
        values = staged.sample_values(column)
        return sum(bool(pattern.search(v)) for v in values) / len(values) if values else 0.0

    by_content = {
        "description": lambda c: any(SIGNATURE_RE.search(v) or "withdraw" in v.lower() for v in staged.sample_values(c)),
        "date": lambda c: share(c, _DATE_LIKE) >= 0.9,
        "currency": lambda c: share(c, _CURRENCY_LIKE) == 1.0,
        "amount": lambda c: share(c, _AMOUNT_LIKE) == 1.0,
        "tax": lambda c: share(c, _AMOUNT_LIKE) == 1.0,
    }
    for name in FIELDS:  # amount before tax: the first numeric column is the amount
        if found[name] is None:
            hit = next((c for c in free if by_content[name](c)), None)
            if hit is not None:
                found[name] = hit
                free.remove(hit)
    ordered = list(staged.columns)
    if len(ordered) in (4, 5):
        for position, name in enumerate(FIELDS[: len(ordered)]):
            if found[name] is None and ordered[position] in free:
                found[name] = ordered[position]
                free.remove(ordered[position])
    return found


def is_transactions(staged: StagedFile) -> bool:
    """A Freelancer.com export: some description in the first rows reads like one."""
    column = match_columns(staged)["description"]
    if column is None:
        return False
    return any(SIGNATURE_RE.search(v) for v in staged.sample_values(column))


def stage_transactions(con, staged: StagedFile, ctx) -> None:
    """Read a Freelancer.com transactions export into payments, milestones and contracts."""
    cols = match_columns(staged)
    for name in ("date", "description", "amount"):
        if cols[name] is None:
            raise single_problem(
                staged.display, 1, None,
                f"cannot tell which column holds the {name} of a Freelancer.com export "
                f"(the header has {', '.join(staged.columns)}); name it '{name}' or use a --mapping",
            )
    real = {k: (staged.columns[v] if v else None) for k, v in cols.items()}
    day_first = resolve_day_first(con, staged, ctx.options.day_first, [cols["date"]])
    dc = resolve_decimal_comma(con, staged, ctx.options.decimal_comma, [c for c in (cols["amount"], cols["tax"]) if c])
    text = lambda c: f"nullif(trim({staged.col(c)}), '')" if c else "CAST(NULL AS VARCHAR)"  # noqa: E731
    rows = f"(SELECT *, {staged.row_expr} AS _row FROM {staged.table})"
    first_row = _header_as_row(staged, cols)
    if first_row is not None:
        rows = f"({first_row} UNION ALL BY NAME SELECT *, {staged.row_expr} AS _row FROM {staged.table})"
        ctx.warnings.append("no header row (its first row reads like a transaction): "
                            "row 1 imported as a transaction, the columns found by their content")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _fl AS
            WITH r AS (
                SELECT _row, {text(cols['date'])} AS date_text,
                       {timestamp_sql(staged.col(cols['date']), day_first)} AS ts,
                       {date_sql(staged.col(cols['date']), day_first)} AS paid_date,
                       regexp_replace({text(cols['description'])}, '\\s+', ' ', 'g') AS description,
                       upper({text(cols['currency'])}) AS currency_col,
                       {text(cols['amount'])} AS amount_text, {amount_sql(staged.col(cols['amount']), dc)} AS amount,
                       {text(cols['tax'])} AS tax_text,
                       coalesce({amount_sql(staged.col(cols['tax']), dc) if cols['tax'] else 'NULL'}, 0) AS tax
                FROM {rows}
            ), p AS (
                SELECT *, regexp_extract(description, '{MILESTONE_RE}', ['client', 'title', 'note', 'cur']) AS m,
                       regexp_extract(description, '{FEE_RE}', ['title', 'cur']) AS f
                FROM r
            )
            SELECT * EXCLUDE (m, f),
                   nullif(m.client, '') AS client,
                   {marketplace.norm_text_sql("coalesce(nullif(m.title, ''), nullif(f.title, ''))")} AS title,
                   CASE WHEN m.cur = '' AND regexp_matches(m.note, '^[A-Z]{{3}}$') THEN NULL ELSE nullif(m.note, '') END AS note,
                   coalesce(currency_col, nullif(m.cur, ''),
                            CASE WHEN regexp_matches(m.note, '^[A-Z]{{3}}$') THEN m.note END, nullif(f.cur, ''),
                            nullif(regexp_extract(description, '\\(([A-Z]{{3}})\\)\\s*$', 1), '')) AS currency,
                   CASE WHEN m.title <> '' THEN 'milestone'
                        WHEN f.title <> '' THEN 'fee'
                        WHEN regexp_matches(description, '(?i)withdraw') AND regexp_matches(description, '(?i)\\bfee')
                            THEN 'account_cost'
                        WHEN regexp_matches(description, '(?i)withdraw') THEN 'withdrawal'
                        WHEN regexp_matches(description, '(?i)\\bfee|membership|upgrade') AND amount < 0 THEN 'account_cost'
                        ELSE 'other' END AS category
            FROM p"""
    )
    problems = _on(con, staged, "ts IS NULL", real["date"],
                   "CASE WHEN date_text IS NULL THEN 'the date is empty' ELSE 'cannot read ''' || date_text || ''' as a date' END")
    problems += _on(con, staged, "amount IS NULL", real["amount"],
                    "CASE WHEN amount_text IS NULL THEN 'the amount is empty' ELSE 'cannot read ''' || amount_text || ''' as an amount' END")
    if cols["tax"]:
        problems += _on(con, staged, "tax_text IS NOT NULL AND tax = 0 AND NOT regexp_matches(tax_text, '^[+\\-]?[0., ]+$')",
                        real["tax"], "'cannot read ''' || tax_text || ''' as an amount'")
    currencies = con.execute(
        "SELECT currency, min(_row) FROM _fl WHERE currency IS NOT NULL GROUP BY currency ORDER BY min(_row)"
    ).fetchall()
    if len(currencies) > 1:
        problems.append(Problem(
            staged.display, int(currencies[1][1]), real["currency"],
            f"the file mixes currencies ({', '.join(c for c, _ in currencies)}); a Freelancer.com export holds one "
            "currency: export each currency to its own file",
        ))
    if not problems and not con.execute("SELECT count(*) FROM _fl WHERE category IN ('milestone', 'fee')").fetchone()[0]:
        # Nothing reads like Freelancer.com's own texts: another export forced through this reader
        # (an Upwork history's Ref ID would be taken for the tax column).
        problems.append(Problem(
            staged.display, None, real["description"],
            "no row reads like a Freelancer.com payment ('Done milestone payment from … for project …') or fee "
            "('Project fee taken (…)'): not a Freelancer.com export; leave --format to auto or choose the right one",
        ))
    if problems:
        ctx.problems.extend(problems)
        return
    currency = currencies[0][0] if currencies else "USD"
    _build(con, ctx, staged.display, currency)


def _header_as_row(staged: StagedFile, cols: dict[str, str | None]) -> str | None:
    """A file with no header row (the real header names are not published, so exports without
    one are expected): its first row, which the reader took for the header, as SQL selecting it
    back as spreadsheet row 1; ``None`` when the header is a header. It is data when the date
    and amount columns found by content are "named" like a date and an amount."""
    date, amount = (staged.columns.get(cols[f] or "") for f in ("date", "amount"))
    if not (date and amount and _DATE_LIKE.search(date) and _AMOUNT_LIKE.search(amount)):
        return None
    cells = []
    for position, real in enumerate(staged.columns.values()):
        # An empty header cell comes back as DuckDB's own name for it, column<position>.
        value = "NULL" if re.fullmatch(f"column0*{position}", real) else "'" + real.replace("'", "''") + "'"
        cells.append(f"CAST({value} AS VARCHAR) AS {quote_ident(real)}")
    return f"SELECT {', '.join(cells)}, 1 AS _row"


def _on(con, staged: StagedFile, condition: str, column: str | None, message_sql: str):
    rows = con.execute(f"SELECT _row, {message_sql} FROM _fl WHERE {condition} ORDER BY _row LIMIT 20").fetchall()
    return [Problem(staged.display, int(r[0]), column, str(r[1])) for r in rows]


def _build(con, ctx, display: str, currency: str) -> None:
    # Keys: time, amount, text and how often that same row occurred before in the file.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _fl2 AS
            SELECT *, strftime(ts, '%Y-%m-%dT%H:%M:%S') || '|' || CAST(amount AS VARCHAR) || '|'
                      || left(md5(coalesce(description, '')), 12) || '|'
                      || CAST(row_number() OVER (PARTITION BY ts, amount, description ORDER BY _row) AS VARCHAR) AS payment_key,
                   CASE WHEN category = 'milestone' THEN {marketplace.contract_id_sql('client', 'title')} END AS contract_id
            FROM _fl"""
    )
    # Each fee row goes to the payment of the same project at the same time, else the nearest before, else after.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _fl_fee AS
           SELECT f.payment_key AS fee_key, f._row, f.ts, f.paid_date, f.title, f.amount, f.tax, f.description,
                  (SELECT arg_min(p.payment_key, (abs(epoch(p.ts) - epoch(f.ts)), p.ts > f.ts, p._row))
                   FROM _fl2 p WHERE p.category = 'milestone' AND lower(p.title) = lower(f.title)) AS parent_key
           FROM _fl2 f WHERE f.category = 'fee'"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _fl_known AS
           SELECT contract_id, lower(title) AS title_key FROM _fl2 WHERE contract_id IS NOT NULL
           UNION SELECT contract_id, lower(title) FROM in_contracts WHERE source = ?
           UNION SELECT contract_id, lower(title) FROM contracts WHERE source = ?""",
        [ctx.source, ctx.source],
    )
    kinds = "CASE category WHEN 'milestone' THEN 'milestone' WHEN 'account_cost' THEN 'account_cost' WHEN 'withdrawal' THEN 'withdrawal' ELSE 'other' END"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _fl_pay AS
            SELECT p.payment_key, p.contract_id, CAST(NULL AS INTEGER) AS seq, {kinds} AS kind, p.paid_date,
                   CASE WHEN p.category = 'account_cost' THEN 0 ELSE p.amount END AS gross,
                   CASE WHEN p.category = 'account_cost' THEN -p.amount + abs(p.tax)
                        -- no fee row of its own in this file: the fee the workspace holds for it (an older
                        -- export may lack the row a newer one had), else none known
                        ELSE coalesce(abs(p.tax) + (SELECT sum(-f.amount + abs(f.tax)) FROM _fl_fee f WHERE f.parent_key = p.payment_key),
                                      (SELECT w.fee FROM payments w WHERE w.source = ? AND w.payment_key = p.payment_key),
                                      abs(p.tax))
                   END AS fee,
                   ? AS currency, p.paid_date > current_date AS pending, p.description, p._row
            FROM _fl2 p WHERE p.category <> 'fee'
            UNION ALL
            -- a fee whose project has no payment in this file: on its own, on the project's contract if known
            SELECT f.fee_key, (SELECT min(k.contract_id) FROM _fl_known k WHERE k.title_key = lower(f.title)), NULL, 'fee',
                   f.paid_date, 0, -f.amount + abs(f.tax), ?, f.paid_date > current_date, f.description, f._row
            FROM _fl_fee f WHERE f.parent_key IS NULL""",
        [ctx.source, currency, currency],
    )
    marketplace.add_payments(con, ctx, "_fl_pay", display)
    contracts = "SELECT contract_id FROM _fl2 WHERE contract_id IS NOT NULL"
    marketplace.number_milestones(con, ctx, contracts)
    marketplace.rebuild_milestones(
        con, ctx, display, contracts,
        "coalesce(nullif(regexp_extract({d}, '\\(([^()]*)\\) \\([A-Z]{{3}}\\)\\s*$', 1), ''), {d})",
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _fl_c AS
           SELECT contract_id, client, CAST(NULL AS VARCHAR) AS freelancer, title, 'fixed' AS contract_type,
                  paid_date AS start_date, _row
           FROM _fl2 WHERE contract_id IS NOT NULL"""
    )
    marketplace.add_contracts(con, ctx, "_fl_c", display, "freelancer", currency)
    # A payment's fee is only known from its own fee row (the same project, the same time): without one,
    # nor a fee the workspace holds for it, nor fee rows of the project kept apart, it stands at 0.00.
    n, gross, projects = con.execute(
        """SELECT count(*), sum(p.gross), count(DISTINCT p.contract_id) FROM _fl_pay p
           WHERE p.kind = 'milestone' AND p.fee = 0 AND p.gross > 0
             AND NOT EXISTS (SELECT 1 FROM in_payments i WHERE i.source = ? AND i.contract_id = p.contract_id AND i.kind = 'fee')
             AND NOT EXISTS (SELECT 1 FROM payments w WHERE w.source = ? AND w.contract_id = p.contract_id AND w.kind = 'fee')""",
        [ctx.source, ctx.source],
    ).fetchone()
    if n:
        ctx.warnings.append(
            f"{plural(n, 'payment')} ({gross:,.2f} {currency}) of {plural(projects, 'project')} with no 'Project fee taken' "
            "row of their own in this import or the workspace: recorded with a fee of 0.00, so net is overstated if a "
            "fee was taken (Freelancer.com's is 10 % or $5); import the export that holds those fee rows too")
    for what, n in con.execute(
        """SELECT 'fee rows whose project has no payment in this file, kept as separate fees', count(*) FROM _fl_fee WHERE parent_key IS NULL
           UNION ALL SELECT 'rows not recognised (kept as ''other'', not attached to a contract)', count(*) FROM _fl2 WHERE category = 'other'"""
    ).fetchall():
        if n:
            ctx.warnings.append(f"{n} {what}")
