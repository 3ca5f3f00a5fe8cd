"""Freelancer.com transaction exports.

The real header names are not published, so columns are found by name, then by content
(a column of texts like ``Done milestone payment from …`` is the description, one of
three-letter codes the currency, …), then by position (date, description, currency,
amount, tax). Milestone payments read ``Done milestone payment from <client> for project
<title> (<note>) (<CUR>)``; fees ``Project fee taken (<title>) (<CUR>)`` and are added to a
payment of that project in the same minute, one fee to one payment in file order (else to the
nearest one before). Exports list oldest first (as the examples do); payments of the same minute
are numbered in file order, reversed in a file whose dates run newest first. Each project is in
the currency it is paid in. Rows carry no transaction id: a payment is keyed by its time, amount,
text and occurrence, which every export of the same account repeats identically.
"""

from __future__ import annotations

import re

from analysis import marketplace
from analysis.errors import ROW_MARK, ImportValidationError, Problem, single_problem, with_unlisted
from analysis.locale import resolve_day_first, resolve_decimal_comma
from analysis.parsing import (
    ISO_4217_SQL, StagedFile, amount_sql, currency_code_sql, date_sql, failing_rows, quote_ident, timestamp_sql,
)
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
#: Header names of numbers that are not money moved: a running balance, a transaction number.
_NOT_MONEY = re.compile(r"balance|(^|_)id$")
#: A cell that only Freelancer.com writes (at its start), and cells only Upwork writes.
_OWN_TEXT = re.compile(r"(?i)^\s*(?:done\s+)?milestone payment from .+ for project |^\s*project fee taken \(")
_UPWORK_TEXT = re.compile(r"(?i)^\s*invoice for |\bref id\s*#?\s*\d|^\s*service fee\b|^\s*fixed[ -]price\s*$|^\s*hourly\s*$")


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
        # never a balance or transaction number: a header naming one is a header, not a row of data
        "amount": lambda c: not _NOT_MONEY.search(c) and share(c, _AMOUNT_LIKE) == 1.0,
        "tax": lambda c: not _NOT_MONEY.search(c) and share(c, _AMOUNT_LIKE) == 1.0,
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


def reads_as_freelancer(staged: StagedFile) -> bool:
    """Whether the first rows' texts are Freelancer.com's own (``Done milestone payment from … for
    project …``, ``Project fee taken (…)``) and none Upwork's. For a header another export's test
    also passes (``Transaction ID, Date, Type, Description, Currency, Amount, Balance`` reads as an
    Upwork history): Freelancer.com's header names are not published, so the texts decide. Rows
    reading as both refuse the file: only the user can say which export it is."""
    def first(pattern: re.Pattern) -> tuple[int, str] | None:
        return next(((i + 2, str(v).strip()) for i, row in enumerate(staged.sample_rows) for v in row.values()
                     if v is not None and pattern.search(str(v))), None)

    own = first(_OWN_TEXT)
    if own is None:
        return False
    upwork = first(_UPWORK_TEXT)
    if upwork is None:
        return True
    raise ImportValidationError([Problem.naming(
        staged.display, own[0], None,
        f"'{_short(own[1])}' reads as a Freelancer.com export, row {ROW_MARK}'s '{_short(upwork[1])}' as an Upwork "
        "transaction history: cannot tell which export this is; pass --format freelancer or --format upwork",
        [(staged.display, upwork[0])])])


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        staged.rows += 1  # the file's row count (import --json "files") includes the row read as its header
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
                   -- the currency a payment's or fee's text ends with: "... (USD)"
                   coalesce(nullif(m.cur, ''), CASE WHEN regexp_matches(m.note, '^[A-Z]{{3}}$') THEN m.note END,
                            nullif(f.cur, '')) AS text_currency,
                   coalesce(currency_col, text_currency,
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
    # Freelancer.com writes money received as positive: a milestone payment below zero is no payment (the
    # reader has no reversal to make of it), and counted as one it would take its money off the project.
    problems += _on(con, staged, "category = 'milestone' AND amount < 0", real["amount"],
                    "'the milestone payment ''' || amount_text || ''' is negative: Freelancer.com lists a payment "
                    "received as a positive amount; correct the amount, or leave a reversed payment out of the file'")
    # And a fee taken as negative: a positive one would be a negative fee, adding to what the project paid.
    problems += _on(con, staged, "category = 'fee' AND amount > 0", real["amount"],
                    "'the project fee ''' || amount_text || ''' is positive: Freelancer.com lists a fee taken as a "
                    "negative amount; correct the amount, or leave a refunded fee out of the file'")
    # A Currency column holds codes (its reader upper-cases them): "US Dollar" would become a currency of its own.
    not_codes = _on(con, staged, f"NOT {currency_code_sql('currency_col')}", real["currency"],
                    "'the currency ''' || currency_col || ''' is not a three-letter ISO code (USD, EUR, ...)'")
    # The description names the currency the money was paid in: a Currency column saying another is
    # one of the two wrong, and amounts are never converted.
    # (A code ISO 4217 does not list may be a note in brackets, "for project Site (SEO)", not a currency.)
    problems += _on(con, staged, f"category IN ('milestone', 'fee') AND currency_col <> text_currency AND text_currency IN ({ISO_4217_SQL})",
                    real["currency"],
                    "'the currency ''' || currency_col || ''' contradicts the description''s (' || text_currency || '): "
                    "amounts are never converted; correct the one that is wrong'")
    problems += not_codes
    currencies = [c for c, in con.execute(
        "SELECT currency FROM _fl WHERE currency IS NOT NULL GROUP BY currency ORDER BY min(_row)").fetchall()]
    if len(currencies) > 1 and not not_codes:  # a currency in words is one problem, not a project in two
        # Each project in the currency it is paid in; a row with none could be either.
        several = ", ".join(currencies).replace("'", "''")  # the file's own text, inside an SQL string
        problems += _on(con, staged, "currency IS NULL", real["currency"],
                        f"'the currency is empty, and the file holds several ({several}): add it'")
        problems += _projects_in_two_currencies(con, staged, real["currency"])
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
    con.execute("UPDATE _fl SET currency = ? WHERE currency IS NULL", [currencies[0] if currencies else "USD"])
    if len(currencies) > 1:
        ctx.warnings.append(
            f"payments in {len(currencies)} currencies ({', '.join(currencies)}): each project is in the currency it "
            "was paid in and never added to another's; the report shows each other currency in its own section "
            "(other_currencies), --currency chooses the one it compares")
    _build(con, ctx, staged.display, currencies)


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


def _projects_in_two_currencies(con, staged: StagedFile, column: str | None) -> list[Problem]:
    """A contract is in one currency: a project's payment in another than its first payment's, or a
    fee in none of its project's, is refused, naming both rows, rather than added up with them."""
    rows = con.execute(
        f"""WITH m AS (
                SELECT _row, currency, title, lower(title) AS title_key,
                       first_value(_row) OVER w AS first_row, first_value(currency) OVER w AS first_currency
                FROM _fl WHERE category = 'milestone'
                WINDOW w AS (PARTITION BY {marketplace.contract_id_sql('client', 'title')} ORDER BY _row)
            )
            SELECT *, count(*) OVER () FROM (
            SELECT _row, first_row, first_currency, currency, title FROM m WHERE currency <> first_currency
            UNION ALL
            -- a fee names its project only: it belongs with a payment of that title in its currency
            SELECT f._row, min(m._row), arg_min(m.currency, m._row), f.currency, f.title
            FROM _fl f JOIN m ON m.title_key = lower(f.title)
            WHERE f.category = 'fee' GROUP BY f._row, f.currency, f.title
            HAVING NOT bool_or(m.currency = f.currency))
            ORDER BY 1 LIMIT 20"""
    ).fetchall()
    return with_unlisted([Problem.naming(
        staged.display, int(row), column,
        f"project '{title}' is paid in {first} (row {ROW_MARK}) and here in {currency}: a project is in one "
        "currency; correct the currency of one of these rows", [(staged.display, int(first_row))])
        for row, first_row, first, currency, title, _ in rows], rows[0][-1] if rows else 0)


def _on(con, staged: StagedFile, condition: str, column: str | None, message_sql: str):
    return failing_rows(con, staged.display, column, "_fl", condition, message_sql)


def _build(con, ctx, display: str, currencies: list[str]) -> None:
    # Keys: time, amount, text and how often that same row occurred before in the file.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _fl2 AS
            SELECT *, strftime(ts, '%Y-%m-%dT%H:%M:%S') || '|' || CAST(amount AS VARCHAR) || '|'
                      || left(md5(coalesce(description, '')), 12) || '|'
                      || CAST(row_number() OVER (PARTITION BY ts, amount, description ORDER BY _row) AS VARCHAR) AS payment_key,
                   CASE WHEN category = 'milestone' THEN {marketplace.contract_id_sql('client', 'title')} END AS contract_id
            FROM _fl"""
    )
    # Each fee row goes to a payment of the same project in the same minute, one to one in file order (two
    # payments at 11:00 and two fee rows: the first fee to the first payment, the second to the second); a fee
    # without such a partner to the nearest payment of the project before, else after.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _fl_fee AS
           WITH ranked AS (
               SELECT *, lower(title) AS title_key, date_trunc('minute', ts) AS minute,
                      row_number() OVER (PARTITION BY category, lower(title), currency, date_trunc('minute', ts) ORDER BY _row) AS nth
               FROM _fl2 WHERE category IN ('milestone', 'fee')
           )
           SELECT f.payment_key AS fee_key, f._row, f.ts, f.paid_date, f.title, f.amount, f.tax, f.description, f.currency,
                  coalesce(
                      (SELECT min(p.payment_key) FROM ranked p WHERE p.category = 'milestone'
                         AND p.title_key = f.title_key AND p.currency = f.currency AND p.minute = f.minute AND p.nth = f.nth),
                      (SELECT arg_min(p.payment_key, (abs(epoch(p.ts) - epoch(f.ts)), p.ts > f.ts, p._row))
                       FROM ranked p WHERE p.category = 'milestone' AND p.title_key = f.title_key
                         AND p.currency = f.currency)) AS parent_key
           FROM ranked f WHERE f.category = 'fee'"""
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
                   p.currency, p.paid_date > current_date AS pending, p.description, p._row
            FROM _fl2 p WHERE p.category <> 'fee'
            UNION ALL
            -- a fee whose project has no payment in this file: on its own, on the project's contract if known
            SELECT f.fee_key, (SELECT min(k.contract_id) FROM _fl_known k WHERE k.title_key = lower(f.title)), NULL, 'fee',
                   f.paid_date, 0, -f.amount + abs(f.tax), f.currency, f.paid_date > current_date, f.description, f._row
            FROM _fl_fee f WHERE f.parent_key IS NULL""",
        [ctx.source],
    )
    marketplace.add_payments(con, ctx, "_fl_pay", display)
    contracts = "SELECT contract_id FROM _fl2 WHERE contract_id IS NOT NULL"
    marketplace.number_milestones(con, ctx, contracts, moment_sql="split_part(payment_key, '|', 1)")  # the key starts with the time
    marketplace.rebuild_milestones(
        con, ctx, display, contracts,
        "coalesce(nullif(regexp_extract({d}, '\\(([^()]*)\\) \\([A-Z]{{3}}\\)\\s*$', 1), ''), {d})",
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _fl_c AS
           SELECT contract_id, client, CAST(NULL AS VARCHAR) AS freelancer, title, 'fixed' AS contract_type,
                  paid_date AS start_date, _row, currency
           FROM _fl2 WHERE contract_id IS NOT NULL"""
    )
    for currency in currencies or ["USD"]:  # each project in the currency it was paid in (one per project, checked)
        con.execute("CREATE OR REPLACE TEMP TABLE _fl_c1 AS SELECT * EXCLUDE (currency) FROM _fl_c WHERE currency = ?", [currency])
        marketplace.add_contracts(con, ctx, "_fl_c1", display, "freelancer", currency)
    # A payment's fee is only known from its own fee row (the same project, the same time): without one,
    # nor a fee the workspace holds for it, nor fee rows of the project kept apart, it stands at 0.00.
    unpaid_fee = con.execute(  # by currency (a project is in one): amounts are never added across currencies
        """SELECT p.currency, count(*), sum(p.gross), count(DISTINCT p.contract_id) FROM _fl_pay p
           WHERE p.kind = 'milestone' AND p.fee = 0 AND p.gross > 0
             AND NOT EXISTS (SELECT 1 FROM in_payments i WHERE i.source = ? AND i.contract_id = p.contract_id AND i.kind = 'fee')
             AND NOT EXISTS (SELECT 1 FROM payments w WHERE w.source = ? AND w.contract_id = p.contract_id AND w.kind = 'fee')
           GROUP BY p.currency ORDER BY min(p._row)""",
        [ctx.source, ctx.source],
    ).fetchall()
    if unpaid_fee:
        n, projects = sum(r[1] for r in unpaid_fee), sum(r[3] for r in unpaid_fee)
        money = " and ".join(f"{gross:,.2f} {currency}" for currency, _, gross, _ in unpaid_fee)
        ctx.warnings.append(
            f"{plural(n, 'payment')} ({money}) of {plural(projects, 'project')} with no 'Project fee taken' "
            "row of their own in this import or the workspace: recorded with a fee of 0.00, so net is overstated if a "
            "fee was taken (Freelancer.com's is 10 % or $5); import the export that holds those fee rows too")
    for what, n in con.execute(
        """SELECT 'fee rows whose project has no payment in this file, kept as separate fees', count(*) FROM _fl_fee WHERE parent_key IS NULL
           UNION ALL SELECT 'rows not recognised (kept as ''other'', not attached to a contract)', count(*) FROM _fl2 WHERE category = 'other'"""
    ).fetchall():
        if n:
            ctx.warnings.append(f"{n} {what}")
