"""Upwork exports: the transaction history (legacy and 2025 layouts) and the weekly summary.

A transaction history lists money movements, newest first. Contracts are rebuilt from the
invoice texts (``Invoice for <title>: Milestone N - <description>``; hourly invoices
``Invoice for 08/12/2019-08/18/2019 - 9:10 hrs @ $30.00/hr`` or ``Invoice for Sep 1-Sep 7,
2025``), the client from the team column; contract ids are ``<client> / <title>`` (hourly:
``<client> / hourly``), so every export of the same account names a contract the same way.
Payments are keyed by Upwork's transaction id, so overlapping exports never double-count.
Service fees (and VAT/GST on them) point at their payment through ``Ref ID`` and are added to
that payment's fee. See ``analysis.marketplace`` for how each kind of row is stored.
"""

from __future__ import annotations

import functools

import duckdb

from analysis import marketplace
from analysis.errors import ROW_MARK, Problem, single_problem, warning_row
from analysis.locale import resolve_day_first, resolve_decimal_comma
from analysis.parsing import StagedFile, amount_sql, date_sql, failing_rows
from analysis.platforms import UPWORK_HOURLY_AVAILABLE_AFTER_WEEK_END_DAYS, fee_sql
from analysis.wording import plural

# Normalized header names (parsing.normalize_header) each logical column may carry.
TXN_COLUMNS = {
    "date": ("date", "transaction_date"),
    "type": ("transaction_type", "type"),
    "client": ("team", "client_team", "client", "client_name", "team_name"),
    "freelancer": ("freelancer", "freelancer_name"),
    "amount": ("amount_$", "amount", "amount_usd", "amount_in_usd"),
    "balance": ("current_balance_$", "balance", "current_balance", "running_balance", "balance_$"),
}
# Every column an invoice text may sit in, in the order they are read.
TEXT_COLUMNS = (
    "transaction_summary", "transaction_summary_details", "description", "description_1",
    "description_2", "description_3", "entered_description",
)
WEEKLY_COLUMNS = {
    "date": ("date", "week", "week_of", "period"),
    "contract": ("contract", "contract_name", "contract_title"),
    "hours": ("hours", "hrs"),
    "amount": ("amount", "amount_$", "earnings", "amount_usd"),
    "payment_type": ("payment_type", "type"),
}

MILESTONE_RE = r"(?i)Invoice for (.+?)\s*:\s*Milestone\s+([0-9]+)"
#: "Refund for Site audit" (legacy), or with the 2025 form's details joined on: "Refund for Site audit: Milestone 1 - Audit".
BONUS_REFUND_RE = r"(?i)(?:bonus|refund)\s+(?:for|on|of)\s+(.+?)(?:\s*:\s*Milestone\s+([0-9]+)\b.*)?$"
MILESTONE_DESCRIPTION_SQL = (
    r"coalesce(nullif(regexp_extract({d}, '(?i)Milestone\s+[0-9]+\s*[-–:]?\s*(.*)$', 1), ''), "
    r"nullif(regexp_extract({d}, '([0-9]+:[0-9]{{2}} hrs.*)$', 1), ''), {d})"
)
HOURLY_NUMERIC_RE = r"([0-9]{1,2}/[0-9]{1,2}/[0-9]{4})\s*[-–]\s*([0-9]{1,2}/[0-9]{1,2}/[0-9]{4})"
HOURLY_TEXT_RE = r"([A-Z][a-z]{2})[a-z]*\.? ([0-9]{1,2})(?:, ([0-9]{4}))?\s*[-–]\s*([A-Z][a-z]{2})[a-z]*\.? ([0-9]{1,2}), ([0-9]{4})"
#: "Ref ID 411000079" in a fee row's text: the payment it was charged on (legacy exports say it only there).
REF_ID_RE = r"(?i)Ref\.?\s*ID\s*[:#]?\s*([0-9]+)"


def _pick(staged: StagedFile, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if staged.has(n)), None)


def is_transaction_history(staged: StagedFile) -> bool:
    """Header test for both generations: a date, a transaction or Ref ID, a type, and a balance or client.

    The amount is not part of the test: an export without it is still recognised, so the reader
    can say which column is missing instead of "format not recognised".
    """
    return (
        _pick(staged, TXN_COLUMNS["date"]) is not None
        and (staged.has("transaction_id") or staged.has("ref_id"))
        and _pick(staged, TXN_COLUMNS["type"]) is not None
        and (_pick(staged, TXN_COLUMNS["balance"]) is not None or _pick(staged, TXN_COLUMNS["client"]) is not None)
    )


def is_weekly_summary(staged: StagedFile) -> bool:
    """Header test: ``Date, Contract, Hours, Amount, Payment type``."""
    return all(_pick(staged, WEEKLY_COLUMNS[k]) is not None for k in ("date", "contract", "amount", "payment_type")) \
        and not staged.has("transaction_id") and not staged.has("ref_id")


def _require(staged: StagedFile, columns: dict[str, tuple[str, ...]], needed: tuple[str, ...], what: str) -> dict[str, str | None]:
    found = {k: _pick(staged, v) for k, v in columns.items()}
    for key in needed:
        if found[key] is None:
            raise single_problem(
                staged.display, 1, None,
                f"not an {what}: no {key} column (looked for {', '.join(columns[key])}; the header has "
                f"{', '.join(staged.columns.values())})",
            )
    return found


def _text_sql(staged: StagedFile, name: str | None) -> str:
    return f"nullif(trim({staged.col(name)}), '')" if name else "CAST(NULL AS VARCHAR)"


def stage_transactions(con, staged: StagedFile, ctx) -> None:
    """Read an Upwork transaction history (either generation) into payments, milestones and contracts."""
    cols = _require(staged, TXN_COLUMNS, ("date", "type", "amount"), "Upwork transaction history")
    own_id = "transaction_id" if staged.has("transaction_id") else "ref_id"
    if not staged.has(own_id):
        raise single_problem(staged.display, 1, None, "not an Upwork transaction history: no Transaction ID or Ref ID column")
    parent_col = "ref_id" if own_id == "transaction_id" and staged.has("ref_id") else None
    day_first = resolve_day_first(con, staged, ctx.options.day_first, [cols["date"]])
    dc = resolve_decimal_comma(con, staged, ctx.options.decimal_comma, [c for c in (cols["amount"], cols["balance"]) if c])
    texts = [c for c in TEXT_COLUMNS if staged.has(c)]
    text = "nullif(concat_ws(': ', " + ", ".join(_text_sql(staged, c) for c in texts) + "), '')" if texts else "CAST(NULL AS VARCHAR)"
    invoice_title = "coalesce(" + ", ".join(
        [f"nullif(regexp_extract(trim({staged.col(c)}), '(?i)^Invoice for (.+)$', 1), '')" for c in texts] + ["NULL"]
    ) + ")"
    raw_date = _text_sql(staged, cols["date"])
    raw_amount = _text_sql(staged, cols["amount"])
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _uw AS
            SELECT {staged.row_expr} AS _row,
                   {_text_sql(staged, own_id)} AS txn_id,
                   {raw_date} AS date_text, {date_sql(staged.col(cols['date']), day_first)} AS paid_date,
                   lower(coalesce({_text_sql(staged, cols['type'])}, '')) AS type_key,
                   coalesce({_text_sql(staged, cols['type'])}, '(no type)') AS type_text,
                   {text} AS text, {invoice_title} AS invoice_title,
                   {marketplace.norm_text_sql(staged.col(cols['client']) if cols['client'] else 'NULL')} AS client,
                   {marketplace.norm_text_sql(staged.col(cols['freelancer']) if cols['freelancer'] else 'NULL')} AS freelancer,
                   {raw_amount} AS amount_text, {amount_sql(staged.col(cols['amount']), dc)} AS amount,
                   {(_text_sql(staged, cols['balance']) + ' IS NULL') if cols['balance'] else 'false'} AS no_balance,
                   {_text_sql(staged, parent_col)} AS parent_col
            FROM {staged.table}"""
    )
    problems = []
    problems += _on(con, staged, "_uw", "txn_id IS NULL", own_id, "'the transaction id is empty'")
    problems += _on(con, staged, "_uw", "paid_date IS NULL", cols["date"],
                    "CASE WHEN date_text IS NULL THEN 'the date is empty' ELSE 'cannot read ''' || date_text || ''' as a date' END")
    problems += _on(con, staged, "_uw", "amount IS NULL", cols["amount"],
                    "CASE WHEN amount_text IS NULL THEN 'the amount is empty' ELSE 'cannot read ''' || amount_text || ''' as an amount' END")
    # An id Excel turned into a number (511000079 shown as 5.11E+08) has lost its digits: two payments would
    # share it, and a later file's would replace an earlier one's. Only a fresh export has the real ids.
    mangled = []
    for name, expr in ((own_id, "txn_id"), (parent_col, "parent_col")):
        if name is not None:
            mangled += _on(con, staged, "_uw", f"regexp_full_match({expr}, {SCIENTIFIC_SQL})", name,
                           f"'the {_sql_text(staged.columns[name])} ''' || {expr} || ''' is a number a spreadsheet wrote "
                           "in scientific notation, which has lost the id''s digits (two transactions would share it): "
                           "export the history from Upwork again and import that file, not one opened and saved in a "
                           "spreadsheet'")
    problems += mangled
    # Upwork numbers milestones from 1 (the template refuses seq 0): "Milestone 0" is not an export's text.
    zero = (f"regexp_full_match(regexp_extract(text, '{MILESTONE_RE}', 2), '0+') "
            f"OR regexp_full_match(regexp_extract(text, '{BONUS_REFUND_RE}', 2), '0+')")
    if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM _uw WHERE {zero} LIMIT 1)").fetchone()[0]:
        problems += _on(con, staged, "_uw", zero, _milestone_text_column(con, staged, texts),
                        "'the text ''' || text || ''' names milestone 0: Upwork numbers milestones from 1; correct "
                        "the milestone number'")
    dup = None if mangled else con.execute(
        """SELECT txn_id, list(_row ORDER BY _row) FROM _uw WHERE txn_id IS NOT NULL GROUP BY txn_id
           HAVING count(DISTINCT (paid_date, type_key, text, client, amount)) > 1 ORDER BY min(_row) LIMIT 1"""
    ).fetchone()
    if dup:
        shown = [int(r) for r in dup[1][:5]]
        problems.append(Problem.naming(
            staged.display, shown[1], staged.columns[own_id],
            f"transaction {dup[0]} appears twice with different contents (rows {', '.join(ROW_MARK for _ in shown)})",
            [(staged.display, r) for r in shown]))
    if problems:
        ctx.problems.extend(problems)
        return
    repeated, first_repeat = con.execute(
        "SELECT count(*), min(_row) FROM (SELECT _row FROM _uw QUALIFY row_number() OVER (PARTITION BY txn_id ORDER BY _row) > 1)"
    ).fetchone()
    if repeated:
        con.execute("CREATE OR REPLACE TEMP TABLE _uw AS SELECT * FROM _uw QUALIFY row_number() OVER (PARTITION BY txn_id ORDER BY _row) = 1")
        ctx.warnings.append(f"{plural(repeated, 'row')} {'repeats' if repeated == 1 else 'repeat'} an earlier row of the "
                            f"file exactly, with the same {staged.columns[own_id]} (first: {warning_row(first_repeat)}): counted once")
    _classify(con)
    _resolve_contracts(con, ctx)
    _attach_fees(con, ctx)
    _build_payments(con, ctx, staged.display)
    _warn(con, ctx)
    ctx.finishers.append(functools.partial(fees_unknown, source=ctx.source, import_id=ctx.import_id))


#: A number as a spreadsheet writes it in scientific notation: 5.11E+08, 5,11E+08 in a decimal-comma locale.
SCIENTIFIC_SQL = "'[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+'"


def _sql_text(text: str) -> str:
    """``text`` (a header of the file) to go inside an SQL string literal."""
    return text.replace("'", "''")


def _milestone_text_column(con, staged: StagedFile, texts: list[str]) -> str | None:
    """The text column whose cells say which milestone (``Milestone 0 - Screens``): the legacy export's
    Description, the 2025 form's Transaction Summary Details."""
    for name in texts:
        if con.execute(f"SELECT count(*) FROM {staged.table} WHERE regexp_matches({staged.col(name)}, "
                       "'(?i)Milestone\\s+[0-9]')").fetchone()[0]:
            return name
    return texts[0] if texts else None


def _problem(staged: StagedFile, row: int, column: str | None, message: str):
    return Problem(staged.display, int(row), column, message)


def _on(con, staged: StagedFile, table: str, condition: str, column: str | None, message_sql: str, limit: int = 20):
    """Problems found on a typed table (which keeps the spreadsheet row number in ``_row``)."""
    real = staged.columns.get(column, column) if column else None
    return failing_rows(con, staged.display, real, table, condition, message_sql, limit=limit)


def _classify(con) -> None:
    """Category of each row, and what its text says (contract title, milestone, week, hours)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _uw2 AS
            WITH p AS (
                SELECT *,
                       nullif(trim(regexp_extract(text, '{MILESTONE_RE}', 1)), '') AS ms_title,
                       TRY_CAST(nullif(regexp_extract(text, '{MILESTONE_RE}', 2), '') AS INTEGER) AS ms_seq,
                       CAST(try_strptime(nullif(regexp_extract(text, '{HOURLY_NUMERIC_RE}', 1), ''), '%m/%d/%Y') AS DATE) AS wk_num,
                       regexp_extract(text, '{HOURLY_TEXT_RE}', ['m1', 'd1', 'y1', 'm2', 'd2', 'y2']) AS wk,
                       nullif(trim(regexp_extract(text, '{BONUS_REFUND_RE}', 1)), '') AS ref_title,
                       TRY_CAST(nullif(regexp_extract(text, '{BONUS_REFUND_RE}', 2), '') AS INTEGER) AS ref_seq,
                       nullif(parent_col, '') AS parent_ref_col,
                       nullif(regexp_extract(text, '{REF_ID_RE}', 1), '') AS parent_ref_text
                FROM _uw
            ), w AS (
                SELECT *,
                       CAST(try_strptime(wk.m2 || ' ' || wk.d2 || ' ' || wk.y2, '%b %d %Y') AS DATE) AS wk_end_text,
                       CAST(try_strptime(wk.m1 || ' ' || wk.d1 || ' ' || coalesce(nullif(wk.y1, ''), wk.y2), '%b %d %Y') AS DATE) AS wk_start_raw
                FROM p
            ), t AS (
                SELECT * EXCLUDE (wk, wk_end_text, wk_start_raw, parent_ref_col, parent_ref_text),
                       coalesce(wk_num,
                                CASE WHEN wk_start_raw > wk_end_text THEN CAST(wk_start_raw - INTERVAL 1 YEAR AS DATE)
                                     ELSE wk_start_raw END) AS week_start,
                       CASE WHEN coalesce(parent_ref_col, parent_ref_text) IS DISTINCT FROM txn_id
                            THEN coalesce(parent_ref_col, parent_ref_text) END AS parent_ref
                FROM w
            )
            SELECT *,
                   CASE
                       WHEN type_key LIKE '%refund%' THEN 'refund'
                       WHEN type_key LIKE '%withdrawal fee%' OR type_key LIKE '%withdraw%fee%' THEN 'account_cost'
                       WHEN type_key LIKE '%withdraw%' THEN 'withdrawal'
                       WHEN type_key LIKE '%membership%' OR type_key LIKE '%connects%' THEN 'account_cost'
                       WHEN type_key LIKE '%service fee%' OR type_key IN ('fee', 'fees', 'service fees') THEN 'fee'
                       WHEN regexp_matches(type_key, '^(vat|gst|hst|tax|sales tax|withholding tax|wht)\\b')
                           THEN CASE WHEN parent_ref IS NOT NULL THEN 'fee' ELSE 'account_cost' END
                       WHEN type_key LIKE '%bonus%' THEN 'bonus'
                       WHEN ms_seq IS NOT NULL THEN 'fixed'
                       WHEN type_key LIKE '%hourly%' THEN 'hourly'
                       WHEN week_start IS NOT NULL AND regexp_matches(text, '(?i)hrs? @') THEN 'hourly'
                       WHEN type_key LIKE '%fixed%' THEN 'fixed'
                       WHEN type_key IN ('payment', 'miscellaneous', 'misc', 'adjustment') THEN 'misc'
                       ELSE 'unknown'
                   END AS category
            FROM t"""
    )


def _resolve_contracts(con, ctx) -> None:
    """Contract of each row: fixed by (client, title), hourly one per client, bonuses and refunds by title."""
    hourly_id = marketplace.contract_id_sql("client", "'hourly'")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _uw3 AS
            SELECT *,
                   CASE WHEN category = 'fixed' THEN {marketplace.contract_id_sql('client', 'coalesce(ms_title, invoice_title, text)')}
                        WHEN category = 'hourly' THEN {hourly_id} END AS contract_id,
                   CASE WHEN category = 'fixed' THEN {marketplace.norm_text_sql('coalesce(ms_title, invoice_title, text)')}
                        WHEN category = 'hourly' THEN 'Hourly work' END AS title,
                   CASE WHEN category = 'hourly' THEN 'hourly' WHEN category = 'fixed' THEN 'fixed' END AS contract_type,
                   CASE WHEN category = 'fixed' THEN ms_seq
                        WHEN category = 'hourly'
                            THEN CAST(strftime(coalesce(week_start, CAST(date_trunc('week', paid_date) AS DATE)), '%Y%m%d') AS INTEGER)
                        WHEN category IN ('bonus', 'refund') THEN coalesce(ms_seq, ref_seq) END AS seq
            FROM _uw2"""
    )
    # Contracts a bonus or refund may belong to: this file's, this import's, the workspace's.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _uw_known AS
           SELECT DISTINCT contract_id, client, lower(title) AS title_key, contract_type FROM (
               SELECT contract_id, client, title, contract_type FROM _uw3 WHERE contract_id IS NOT NULL
               UNION ALL SELECT contract_id, client, title, contract_type FROM in_contracts WHERE source = ?
               UNION ALL SELECT contract_id, client, title, contract_type FROM contracts WHERE source = ?)""",
        [ctx.source, ctx.source],
    )
    # The payment a bonus or refund names by Ref ID (the 2025 form's column): this file's, or imported
    # before; only those named, so the workspace's payments are not copied for every import.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _uw_parent AS
           WITH named AS (SELECT DISTINCT parent_ref FROM _uw3 WHERE category IN ('bonus', 'refund') AND parent_ref IS NOT NULL)
           SELECT * FROM (
               SELECT txn_id AS payment_key, contract_id, seq FROM _uw3
               WHERE category IN ('fixed', 'hourly') AND contract_id IS NOT NULL
               UNION ALL SELECT payment_key, contract_id, seq FROM in_payments
               WHERE source = ? AND kind IN ('milestone', 'hourly') AND contract_id IS NOT NULL
               UNION ALL SELECT payment_key, contract_id, seq FROM payments
               WHERE source = ? AND kind IN ('milestone', 'hourly') AND contract_id IS NOT NULL)
           WHERE payment_key IN (SELECT parent_ref FROM named)""",
        [ctx.source, ctx.source],
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _uw_attach AS
            WITH r AS (
                SELECT u.txn_id, u.client, u.parent_ref,
                       {marketplace.norm_text_sql('coalesce(u.ms_title, u.ref_title)')} AS want_title FROM _uw3 u
                WHERE u.category IN ('bonus', 'refund')
            ), a AS (
                SELECT r.txn_id, r.client, r.want_title,
                       (SELECT min(p.seq) FROM _uw_parent p WHERE p.payment_key = r.parent_ref) AS parent_seq,
                       (SELECT min(p.contract_id) FROM _uw_parent p WHERE p.payment_key = r.parent_ref) AS by_ref,
                       (SELECT min(k.contract_id) FROM _uw_known k
                        WHERE k.client IS NOT DISTINCT FROM r.client AND k.title_key = lower(r.want_title)) AS by_title,
                       -- naming neither, a row goes to its client's contract only when there is one: with several
                       -- (an hourly one and a fixed-price one, say) which it belongs to is a guess, so none is taken
                       (SELECT CASE WHEN count(DISTINCT k.contract_id) = 1 THEN min(k.contract_id) END FROM _uw_known k
                        WHERE k.client IS NOT DISTINCT FROM r.client AND r.want_title IS NULL) AS only_one
                FROM r
            )
            SELECT txn_id, parent_seq,
                   coalesce(by_ref, by_title, only_one,
                            CASE WHEN want_title IS NOT NULL THEN {marketplace.contract_id_sql('client', 'want_title')} END
                   ) AS contract_id,
                   want_title,
                   by_ref IS NULL AND by_title IS NULL AND only_one IS NOT NULL AS client_only_contract
            FROM a"""
    )
    con.execute(
        """UPDATE _uw3 u SET contract_id = a.contract_id, seq = coalesce(u.seq, a.parent_seq),
                  title = CASE WHEN NOT EXISTS (SELECT 1 FROM _uw_known k WHERE k.contract_id = a.contract_id) THEN a.want_title END,
                  contract_type = CASE WHEN NOT EXISTS (SELECT 1 FROM _uw_known k WHERE k.contract_id = a.contract_id) THEN 'fixed' END
           FROM _uw_attach a WHERE u.txn_id = a.txn_id"""
    )


def _attach_fees(con, ctx) -> None:
    """Fee rows (and VAT/GST on fees) onto the payment they were charged on, through Ref ID chains.

    A fee row and its payment can come in different files (an export ending between them), in
    either order, and the money must not depend on which came first: a fee whose payment is in no
    file yet is kept apart, without a contract (counted with the account costs); the file that
    brings the payment puts it on the payment's contract (``_uw_apart``). A settled fee charged on
    a payment listed as pending shows it released: Upwork takes its fee when it releases one
    (``_uw_released``).
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _uw_fee AS SELECT txn_id, _row, paid_date, amount, parent_ref AS root, no_balance FROM _uw3 WHERE category = 'fee'"
    )
    for _ in range(3):  # VAT on a fee on a payment: follow the chain up to the payment
        con.execute(
            """UPDATE _uw_fee f SET root = u.parent_ref FROM _uw3 u
               WHERE u.txn_id = f.root AND u.category = 'fee' AND u.parent_ref IS NOT NULL"""
        )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _uw_fee_on AS
           SELECT root, -sum(amount) AS fee FROM _uw_fee f
           WHERE EXISTS (SELECT 1 FROM _uw3 u WHERE u.txn_id = f.root AND u.category <> 'fee')
           GROUP BY root"""
    )
    # Fee rows whose payment is not in this file: on their own, on that payment's contract when an
    # earlier file or import brought it, unless it carries a fee, which then counted them (fees come
    # in the same export as their payment). A fee kept apart is no such payment: VAT on it is not counted.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _uw_fee_alone AS
           WITH known AS (
               SELECT payment_key, contract_id, seq, kind, fee, pending, true AS staged FROM in_payments WHERE source = ?
               UNION ALL
               SELECT payment_key, contract_id, seq, kind, fee, pending, false FROM payments p WHERE source = ?
                 AND NOT EXISTS (SELECT 1 FROM in_payments i WHERE i.source = p.source AND i.payment_key = p.payment_key)
           )
           SELECT f.*, k.contract_id, CASE WHEN k.kind <> 'bonus' THEN k.seq END AS seq,
                  k.payment_key IS NOT NULL AS parent_known, coalesce(k.pending, false) AS parent_pending,
                  coalesce(k.staged, false) AS parent_staged,
                  k.kind IS DISTINCT FROM 'fee' AND coalesce(k.fee, 0) <> 0 AS counted
           FROM _uw_fee f LEFT JOIN known k ON k.payment_key = f.root
           WHERE NOT EXISTS (SELECT 1 FROM _uw3 u WHERE u.txn_id = f.root AND u.category <> 'fee')""",
        [ctx.source, ctx.source],
    )
    # Fee rows an earlier file of this import, or an earlier import, kept apart (kind 'fee') that name a
    # payment of this file, directly or through one of its fee rows; ``in_file``: the row is in this file too.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _uw_apart AS
            WITH apart AS (
                SELECT payment_key, contract_id, seq, kind, paid_date, gross, fee, currency, pending, description,
                       true AS staged FROM in_payments WHERE source = ? AND kind = 'fee'
                UNION ALL
                SELECT payment_key, contract_id, seq, kind, paid_date, gross, fee, currency, pending, description, false
                FROM payments p WHERE source = ? AND kind = 'fee'
                  AND NOT EXISTS (SELECT 1 FROM in_payments i WHERE i.source = p.source AND i.payment_key = p.payment_key)
            ), named AS (
                SELECT *, unnest(regexp_extract_all(description, '{REF_ID_RE}', 1)) AS ref FROM apart
            ), mine AS (
                SELECT txn_id AS ref, txn_id AS parent FROM _uw3 WHERE category <> 'fee'
                UNION ALL SELECT txn_id, root FROM _uw_fee
            )
            SELECT n.* EXCLUDE (ref), u.txn_id AS parent, u.contract_id AS parent_contract,
                   CASE WHEN u.category <> 'bonus' THEN u.seq END AS parent_seq,
                   EXISTS (SELECT 1 FROM _uw_fee f WHERE f.txn_id = n.payment_key) AS in_file
            FROM named n JOIN mine m ON m.ref = n.ref JOIN _uw3 u ON u.txn_id = m.parent AND u.category <> 'fee'
            WHERE n.payment_key <> u.txn_id
            QUALIFY row_number() OVER (PARTITION BY n.payment_key ORDER BY u._row) = 1""",
        [ctx.source, ctx.source],
    )
    # Payments listed as not yet released that a settled fee row (of this file, or kept apart) was charged on.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _uw_released AS
           WITH charged AS (
               SELECT root AS payment_key, txn_id AS fee_key, paid_date AS fee_date FROM _uw_fee
               WHERE NOT no_balance AND paid_date <= current_date
               UNION ALL SELECT parent, payment_key, paid_date FROM _uw_apart WHERE NOT in_file AND NOT pending
           ), evidence AS (
               SELECT payment_key, arg_min(fee_key, (fee_date, fee_key)) AS fee_key, min(fee_date) AS fee_date
               FROM charged GROUP BY payment_key
           )
           SELECT u.txn_id AS payment_key, u.amount AS gross, u._row, e.fee_key, e.fee_date, 'file' AS held
           FROM _uw3 u JOIN evidence e ON e.payment_key = u.txn_id
           WHERE u.category NOT IN ('fee', 'account_cost', 'withdrawal') AND (u.no_balance OR u.paid_date > current_date)
           UNION ALL
           SELECT a.root, NULL, a._row, a.txn_id, a.paid_date, CASE WHEN a.parent_staged THEN 'staged' ELSE 'workspace' END
           FROM _uw_fee_alone a
           WHERE a.parent_known AND a.parent_pending AND NOT a.no_balance AND a.paid_date <= current_date
           QUALIFY row_number() OVER (PARTITION BY a.root ORDER BY a.paid_date, a.txn_id) = 1"""
    )


def _build_payments(con, ctx, display: str) -> None:
    kinds = """CASE category WHEN 'fixed' THEN 'milestone' WHEN 'hourly' THEN 'hourly' WHEN 'bonus' THEN 'bonus'
                WHEN 'refund' THEN 'refund' WHEN 'account_cost' THEN 'account_cost'
                WHEN 'withdrawal' THEN 'withdrawal' ELSE 'other' END"""
    # Where an earlier file of this import holds what this file changes, it is changed there.
    con.execute(
        """UPDATE in_payments i SET contract_id = a.parent_contract, seq = a.parent_seq FROM _uw_apart a
           WHERE i.source = ? AND i.payment_key = a.payment_key AND a.staged AND NOT a.in_file""",
        [ctx.source],
    )
    con.execute(
        """UPDATE in_payments i SET gross = 0, fee = 0 FROM _uw_fee f
           WHERE i.source = ? AND i.kind = 'fee' AND i.payment_key = f.txn_id
             AND EXISTS (SELECT 1 FROM _uw3 u WHERE u.txn_id = f.root AND u.category <> 'fee')""",
        [ctx.source],
    )
    con.execute(
        """UPDATE in_payments i SET pending = false FROM _uw_released r
           WHERE i.source = ? AND i.payment_key = r.payment_key AND r.held = 'staged'""",
        [ctx.source],
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _uw_pay AS
            SELECT u.txn_id AS payment_key, u.contract_id, u.seq, {kinds} AS kind, u.paid_date,
                   CASE WHEN u.category = 'account_cost' THEN 0 ELSE u.amount END AS gross,
                   -- no fee row in this file: the fee the workspace holds for it (a newer export had its row)
                   CASE WHEN u.category = 'account_cost' THEN -u.amount
                        ELSE coalesce(f.fee, (SELECT w.fee FROM payments w WHERE w.source = ? AND w.payment_key = u.txn_id), 0)
                   END AS fee,
                   'USD' AS currency,
                   (u.no_balance OR u.paid_date > current_date)
                       AND NOT EXISTS (SELECT 1 FROM _uw_released r WHERE r.payment_key = u.txn_id) AS pending,
                   coalesce(u.text, u.type_text) AS description, u._row
            FROM _uw3 u LEFT JOIN _uw_fee_on f ON f.root = u.txn_id
            WHERE u.category <> 'fee'
            UNION ALL
            -- the payment's Ref ID stays in the text, so the file that brings the payment finds the fee
            SELECT a.txn_id, a.contract_id, a.seq, 'fee', a.paid_date, 0, -a.amount, 'USD',
                   a.no_balance OR a.paid_date > current_date,
                   CASE WHEN list_contains(regexp_extract_all(coalesce(u.text, ''), '{REF_ID_RE}', 1), a.root)
                        THEN u.text ELSE concat_ws(' ', u.text, '(Ref ID ' || a.root || ')') END,
                   a._row
            FROM _uw_fee_alone a JOIN _uw3 u USING (txn_id)
            WHERE NOT a.counted
            UNION ALL
            -- a fee kept on its own by an earlier import is now counted on its payment: zero it
            SELECT p.payment_key, p.contract_id, p.seq, p.kind, p.paid_date, 0, 0, p.currency, p.pending,
                   p.description, f._row
            FROM payments p JOIN _uw_fee f ON p.payment_key = f.txn_id
            WHERE p.source = ? AND p.kind = 'fee'
              AND EXISTS (SELECT 1 FROM _uw3 u WHERE u.txn_id = f.root AND u.category <> 'fee')
            UNION ALL
            -- a fee kept on its own by an earlier import whose payment this file brings: onto its contract
            SELECT a.payment_key, a.parent_contract, a.parent_seq, a.kind, a.paid_date, a.gross, a.fee, a.currency,
                   a.pending, a.description, u._row
            FROM _uw_apart a JOIN _uw3 u ON u.txn_id = a.parent
            WHERE NOT a.staged AND NOT a.in_file
              AND (a.contract_id IS DISTINCT FROM a.parent_contract OR a.seq IS DISTINCT FROM a.parent_seq)
            UNION ALL
            -- a payment the workspace holds as not yet released that a fee of this file shows released
            SELECT p.payment_key, p.contract_id, p.seq, p.kind, p.paid_date, p.gross, p.fee, p.currency, false,
                   p.description, r._row
            FROM payments p JOIN _uw_released r ON p.payment_key = r.payment_key
            WHERE p.source = ? AND r.held = 'workspace'""",
        [ctx.source, ctx.source, ctx.source],
    )
    marketplace.add_payments(con, ctx, "_uw_pay", display)
    # Fixed-price invoices without a milestone number: numbered by date when the contract has no numbers at all.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _uw_unnumbered AS
           SELECT DISTINCT contract_id FROM _uw3 WHERE category = 'fixed' AND seq IS NULL
           EXCEPT SELECT contract_id FROM _uw3 WHERE category = 'fixed' AND seq IS NOT NULL
           EXCEPT SELECT contract_id FROM payments WHERE source = ? AND kind = 'milestone' AND seq IS NOT NULL
               AND payment_key NOT IN (SELECT payment_key FROM in_payments WHERE source = ?)""",
        [ctx.source, ctx.source],
    )
    if con.execute("SELECT count(*) FROM _uw_unnumbered").fetchone()[0]:
        marketplace.number_milestones(con, ctx, "SELECT contract_id FROM _uw_unnumbered")
    # This file's contracts, and those a fee or a release of this file changes (an earlier import's).
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _uw_touched AS
           SELECT contract_id FROM _uw3 WHERE contract_id IS NOT NULL
           UNION SELECT contract_id FROM _uw_pay WHERE contract_id IS NOT NULL
           UNION SELECT i.contract_id FROM in_payments i JOIN _uw_released r USING (payment_key)
           WHERE i.source = ? AND r.held = 'staged' AND i.contract_id IS NOT NULL""",
        [ctx.source],
    )
    marketplace.rebuild_milestones(con, ctx, display, "SELECT contract_id FROM _uw_touched", MILESTONE_DESCRIPTION_SQL)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _uw_c AS
           SELECT contract_id, client, freelancer, title, contract_type, paid_date AS start_date, _row
           FROM _uw3 WHERE contract_id IS NOT NULL AND category IN ('fixed', 'hourly', 'bonus', 'refund')"""
    )
    # Bonuses and refunds attached to a known contract do not redefine it.
    con.execute("UPDATE _uw_c SET contract_type = 'fixed' WHERE contract_type IS NULL")
    con.execute(
        """DELETE FROM _uw_c c WHERE c.title IS NULL AND EXISTS (SELECT 1 FROM _uw_c d WHERE d.contract_id = c.contract_id AND d.title IS NOT NULL)"""
    )
    con.execute(
        """UPDATE _uw_c c SET contract_type = k.contract_type, title = k.title FROM
           (SELECT contract_id, max(contract_type) AS contract_type, min(title) AS title FROM (
                SELECT contract_id, contract_type, title FROM in_contracts WHERE source = ?
                UNION ALL SELECT contract_id, contract_type, title FROM contracts WHERE source = ?) GROUP BY contract_id) k
           WHERE c.title IS NULL AND k.contract_id = c.contract_id""",
        [ctx.source, ctx.source],
    )
    marketplace.add_contracts(con, ctx, "_uw_c", display, "upwork")


def _warn_other_upwork_layout(con, ctx, other_is_history: bool) -> None:
    """A weekly summary and a transaction history of the same weeks describe the same money twice:
    said when the other layout's payments (this import's other files, or the workspace) fall within
    two weeks of this file's, naming both spans; files of different periods pass in silence."""
    other_ids = f"contract_id {'' if other_is_history else 'NOT '}LIKE '% / %'"
    row = con.execute(
        f"""WITH mine AS (SELECT min(paid_date) AS first, max(paid_date) AS last FROM in_payments
                         WHERE _import_id = ? AND paid_date IS NOT NULL),
                 other AS (SELECT contract_id, paid_date FROM payments p
                           WHERE source = ? AND {other_ids} AND paid_date IS NOT NULL
                             AND NOT EXISTS (SELECT 1 FROM in_payments i WHERE i.source = p.source AND i.payment_key = p.payment_key)
                           UNION ALL
                           SELECT contract_id, paid_date FROM in_payments
                           WHERE source = ? AND _import_id <> ? AND {other_ids} AND paid_date IS NOT NULL)
            SELECT count(DISTINCT o.contract_id), min(o.paid_date), max(o.paid_date), any_value(m.first), any_value(m.last)
            FROM other o, mine m WHERE o.paid_date BETWEEN m.first - INTERVAL 14 DAY AND m.last + INTERVAL 14 DAY""",
        [ctx.import_id, ctx.source, ctx.source, ctx.import_id],
    ).fetchone()
    n, other_first, other_last, first, last = row
    if n:
        other = "a transaction history" if other_is_history else "a weekly summary"
        ctx.warnings.append(
            f"this import or the workspace also holds {other} of source '{ctx.source}' with payments of {plural(n, 'contract')} "
            f"from {other_first} to {other_last}, within this file's {first} to {last}: the two layouts cannot be "
            "matched transaction by transaction, so weeks both cover are counted twice; import only one for those weeks"
        )


def _warn(con, ctx) -> None:
    _warn_other_upwork_layout(con, ctx, other_is_history=False)
    for type_text, n in con.execute(
        "SELECT type_text, count(*) FROM _uw3 WHERE category = 'unknown' GROUP BY type_text ORDER BY type_text"
    ).fetchall():
        ctx.warnings.append(f"{n} row{'s' if n != 1 else ''} of unknown type '{type_text}' kept as 'other', not attached to a contract")
    misc = con.execute("SELECT count(*), string_agg(DISTINCT type_text, ', ') FROM _uw3 WHERE category = 'misc'").fetchone()
    if misc[0]:
        ctx.warnings.append(f"{misc[0]} {misc[1]} row{'s' if misc[0] != 1 else ''} without an invoice text kept as 'other', not attached to a contract")
    _warn_unattached(con, ctx)
    _warn_fees_apart(con, ctx)
    unnumbered = con.execute("SELECT count(*) FROM _uw_unnumbered").fetchone()[0]
    if unnumbered:
        ctx.warnings.append(f"{unnumbered} fixed-price contract{'s' if unnumbered != 1 else ''} without milestone numbers: milestones numbered by date")
    # Not those an earlier import holds as released: they stay so (``importing._keep_released_payments``).
    pending = con.execute(
        """SELECT count(*), sum(amount) FROM _uw3 u WHERE category IN ('fixed', 'hourly', 'bonus')
           AND (no_balance OR paid_date > current_date)
           AND NOT EXISTS (SELECT 1 FROM _uw_released r WHERE r.payment_key = u.txn_id)
           AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.source = ? AND p.payment_key = u.txn_id AND NOT p.pending)""",
        [ctx.source]).fetchone()
    if pending[0]:
        ctx.warnings.append(
            f"{pending[0]} payment{'s' if pending[0] != 1 else ''} ({pending[1]:,.2f} USD) not yet released "
            "(empty balance or a future date): recorded as pending, not earned"
        )


def _warn_unattached(con, ctx) -> None:
    """Bonuses and refunds naming no contract (no Ref ID, no title): put on the client's only contract,
    or, when the client has none or several, kept without one; either way said, with the first row."""
    for only, n, row, text, gross, client, contract in con.execute(
        """SELECT coalesce(a.client_only_contract, false) AS only_one, count(*), min(u._row),
                  arg_min(coalesce(u.text, u.type_text), u._row), arg_min(u.amount, u._row),
                  arg_min(coalesce(u.client, '(no client)'), u._row), arg_min(u.contract_id, u._row)
           FROM _uw3 u LEFT JOIN _uw_attach a USING (txn_id)
           WHERE u.category IN ('bonus', 'refund') AND (u.contract_id IS NULL OR a.client_only_contract)
           GROUP BY ALL ORDER BY only_one"""
    ).fetchall():
        first = f"first: {warning_row(row)}, '{text}', {gross:,.2f} USD from {client}"
        rows = f"{plural(n, 'bonus or refund row')} {'names' if n == 1 else 'name'} no contract by Ref ID or title ({first})"
        if only:
            ctx.warnings.append(f"{rows}: put on the client's only contract, '{contract}'")
        else:
            ctx.warnings.append(
                f"{rows}, and {'its client has' if n == 1 else 'their clients have'} no contract or several: which "
                f"{'it belongs' if n == 1 else 'they belong'} to would be a guess, so {'it is' if n == 1 else 'they are'} "
                "kept without a contract, left out of every contract's earnings")


def _separate_fees(n: int) -> str:
    return "a separate fee" if n == 1 else "separate fees"


def _warn_fees_apart(con, ctx) -> None:
    """What became of fee rows whose payment is not in this file, of fee rows other files kept apart
    that this file's payments claim, and of pending payments a settled fee shows released."""
    apart, on_contract, counted, first_row, first_ref = con.execute(
        """SELECT count(*) FILTER (WHERE NOT parent_known), count(*) FILTER (WHERE parent_known AND NOT counted),
                  count(*) FILTER (WHERE counted), min(_row) FILTER (WHERE NOT parent_known),
                  arg_min(root, _row) FILTER (WHERE NOT parent_known)
           FROM _uw_fee_alone"""
    ).fetchone()
    if apart:
        ctx.warnings.append(
            f"{plural(apart, 'fee row')} {'refers' if apart == 1 else 'refer'} to a payment neither in this file nor "
            f"imported before it (first: {warning_row(first_row)}, {f'Ref ID {first_ref}' if first_ref else 'no Ref ID'}): "
            f"kept as {_separate_fees(apart)}; "
            f"until a file brings that payment, {'it has' if apart == 1 else 'they have'} no contract and "
            f"{'counts' if apart == 1 else 'count'} with the account costs")
    if on_contract:
        ctx.warnings.append(
            f"{plural(on_contract, 'fee row')} {'refers' if on_contract == 1 else 'refer'} to a payment of another file "
            f"or an earlier import that carries no fee: kept as {_separate_fees(on_contract)} beside that payment, "
            "on its contract")
    if counted:
        ctx.warnings.append(
            f"{plural(counted, 'fee row')} {'belongs' if counted == 1 else 'belong'} to payments imported earlier with "
            "their fees: not counted again")
    n, fee, first_key = con.execute(
        """SELECT count(*), sum(fee), arg_min(payment_key, paid_date) FROM _uw_apart
           WHERE NOT in_file AND contract_id IS DISTINCT FROM parent_contract"""
    ).fetchone()
    if n:
        ctx.warnings.append(
            f"{plural(n, 'fee row')} another file or an earlier import kept apart ({fee:,.2f} USD; first: {first_key}) "
            f"{'was' if n == 1 else 'were'} charged on {'a payment' if n == 1 else 'payments'} of this file: now on "
            f"{'its contract' if n == 1 else 'their contracts'}")
    released = con.execute(
        """SELECT count(*), arg_min(r.payment_key, (r.fee_date, r.payment_key)),
                  arg_min(coalesce(r.gross, i.gross, p.gross), (r.fee_date, r.payment_key)),
                  arg_min(r.fee_key, (r.fee_date, r.payment_key)), min(r.fee_date)
           FROM _uw_released r
           LEFT JOIN in_payments i ON i.source = ? AND i.payment_key = r.payment_key
           LEFT JOIN payments p ON p.source = ? AND p.payment_key = r.payment_key""",
        [ctx.source, ctx.source],
    ).fetchone()
    if released[0]:
        n, key, gross, fee_key, fee_date = released
        ctx.warnings.append(
            f"{plural(n, 'payment')} listed as not yet released (first: {key}, {gross:,.2f} USD) "
            f"{'has' if n == 1 else 'have'} a settled service fee charged on {'it' if n == 1 else 'them'} (first: "
            f"{fee_key} on {fee_date}): Upwork takes its fee when it releases a payment, so "
            f"{'it counts' if n == 1 else 'they count'} as released, with the fee")


def fees_unknown(con: duckdb.DuckDBPyConnection, source: str, import_id: int) -> list[str]:
    """Released payments of one file with no fee at all, once every file of the import is merged
    (a fee row may come in a later file): stored at 0.00, which overstates net if Upwork took one.

    Not derived from Upwork's rules: the export is the record of what was taken, a derived fee
    could not be told from a real one when the export holding the fee row is imported, and the
    rate depended on the contract (a variable fee since 2023)."""
    found = con.execute(
        f"""WITH apart AS (
                SELECT unnest(regexp_extract_all(description, '{REF_ID_RE}', 1)) AS ref FROM payments
                WHERE source = ? AND kind = 'fee' AND fee <> 0)
            SELECT count(*), sum(p.gross), arg_min(p.payment_key, (p.paid_date, p.payment_key)),
                   min(p.paid_date)
            FROM payments p JOIN in_payments i USING (source, payment_key)
            WHERE p.source = ? AND i._import_id = ? AND p.kind IN ('milestone', 'hourly', 'bonus')
              AND NOT p.pending AND p.gross > 0 AND p.fee = 0
              AND p.payment_key NOT IN (SELECT ref FROM apart)""",
        [source, source, import_id],
    ).fetchone()
    n, gross, first, first_date = found
    if not n:
        return []
    return [f"{plural(n, 'released payment')} ({gross:,.2f} USD; first: {first} on {first_date}) "
            f"{'has' if n == 1 else 'have'} no Service Fee row in this import or the workspace: recorded with a fee "
            "of 0.00, so net is overstated if Upwork took one (its fee is not in the export); import the export "
            "that holds those fee rows too"]


# --- weekly summary -------------------------------------------------------------------

def stage_weekly(con, staged: StagedFile, ctx) -> None:
    """Read an Upwork weekly summary: ``Date, Contract = title (id), Hours, Amount, Payment type``.

    The summary has no fees: they follow Upwork's rules for the date (``platforms.fee_sql``).
    Its hourly rows name the work week; their money arrives the Wednesday 10 days after the
    week ends (Upwork's hourly rule), which becomes their paid date.
    """
    cols = _require(staged, WEEKLY_COLUMNS, ("date", "contract", "amount"), "Upwork weekly summary")
    day_first = resolve_day_first(con, staged, ctx.options.day_first, [cols["date"]])
    dc = resolve_decimal_comma(con, staged, ctx.options.decimal_comma, [cols["amount"]])
    contract = _text_sql(staged, cols["contract"])
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _uww AS
            SELECT {staged.row_expr} AS _row,
                   {_text_sql(staged, cols['date'])} AS date_text, {date_sql(staged.col(cols['date']), day_first)} AS week_date,
                   {contract} AS contract_text,
                   coalesce(nullif(trim(regexp_extract({contract}, '^(.*?)\\s*\\(([^()]*)\\)\\s*$', 1)), ''), {contract}) AS title,
                   coalesce(nullif(trim(regexp_extract({contract}, '^(.*?)\\s*\\(([^()]*)\\)\\s*$', 2)), ''), {contract}) AS contract_id,
                   TRY_CAST(replace({_text_sql(staged, cols['hours'])}, ',', '.') AS DOUBLE) AS hours,
                   {_text_sql(staged, cols['amount'])} AS amount_text, {amount_sql(staged.col(cols['amount']), dc)} AS amount,
                   lower(coalesce({_text_sql(staged, cols['payment_type'])}, '')) AS type_key,
                   {_text_sql(staged, cols['payment_type'])} AS type_text
            FROM {staged.table}"""
    )
    skipped = con.execute("SELECT count(*) FROM _uww WHERE contract_text IS NULL").fetchone()[0]
    con.execute("DELETE FROM _uww WHERE contract_text IS NULL")
    problems = _on(con, staged, "_uww", "week_date IS NULL", cols["date"],
                   "CASE WHEN date_text IS NULL THEN 'the date is empty' ELSE 'cannot read ''' || date_text || ''' as a date' END")
    problems += _on(con, staged, "_uww", "amount IS NULL", cols["amount"],
                    "CASE WHEN amount_text IS NULL THEN 'the amount is empty' ELSE 'cannot read ''' || amount_text || ''' as an amount' END")
    if problems:
        ctx.problems.extend(problems)
        return
    hold = UPWORK_HOURLY_AVAILABLE_AFTER_WEEK_END_DAYS
    fee = fee_sql("'upwork'", "paid_date", "gross", "billed_before")
    # A refund gives back the fee on the money it returns: the fee that money paid when it was the
    # last billed with the client (the running total already counts the refund's negative gross).
    fee_back = fee_sql("'upwork'", "paid_date", "(-gross)", "greatest(billed_before + gross, 0)")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _uww2 AS
            WITH k AS (
                SELECT *, CASE WHEN type_key = '' THEN 'hourly' WHEN type_key LIKE '%fixed%' THEN 'milestone'
                               WHEN type_key LIKE '%bonus%' THEN 'bonus' WHEN type_key LIKE '%refund%' THEN 'refund'
                               ELSE 'other' END AS kind
                FROM _uww
            ), g AS (
                SELECT contract_id, min(title) AS title, week_date, kind, sum(amount) AS gross, sum(hours) AS hours,
                       min(_row) AS _row, min(type_text) AS type_text
                FROM k GROUP BY contract_id, week_date, kind
            ), d AS (
                SELECT *, CASE WHEN kind = 'hourly'
                               THEN CAST(date_trunc('week', week_date) AS DATE) + 6 + {hold}
                               ELSE week_date END AS paid_date
                FROM g
            )
            SELECT *, coalesce(sum(gross) OVER (PARTITION BY contract_id ORDER BY paid_date, kind
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS billed_before
            FROM d"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _uww_pay AS
            SELECT contract_id || '|' || strftime(week_date, '%Y-%m-%d') || '|' || kind AS payment_key, contract_id,
                   CASE WHEN kind = 'hourly' THEN CAST(strftime(date_trunc('week', week_date), '%Y%m%d') AS INTEGER) END AS seq,
                   kind, paid_date, gross, CASE WHEN kind IN ('milestone', 'hourly', 'bonus') THEN {fee}
                                                WHEN kind = 'refund' THEN -{fee_back} ELSE 0 END AS fee,
                   'USD' AS currency, paid_date > current_date AS pending,
                   CASE WHEN kind = 'hourly' THEN 'Week of ' || strftime(CAST(date_trunc('week', week_date) AS DATE), '%Y-%m-%d')
                        || coalesce(': ' || CAST(hours AS VARCHAR) || ' hrs', '')
                        ELSE coalesce(type_text, kind) || ', ' || strftime(week_date, '%Y-%m-%d') END AS description,
                   _row
            FROM _uww2"""
    )
    marketplace.add_payments(con, ctx, "_uww_pay", staged.display)
    marketplace.number_milestones(con, ctx, "SELECT contract_id FROM _uww_pay WHERE kind = 'milestone'")
    marketplace.rebuild_milestones(con, ctx, staged.display, "SELECT contract_id FROM _uww_pay")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _uww_c AS
           SELECT contract_id, CAST(NULL AS VARCHAR) AS client, CAST(NULL AS VARCHAR) AS freelancer, title,
                  CASE WHEN bool_or(kind = 'hourly') OVER (PARTITION BY contract_id) THEN 'hourly' ELSE 'fixed' END AS contract_type,
                  week_date AS start_date, _row
           FROM _uww2"""
    )
    marketplace.add_contracts(con, ctx, "_uww_c", staged.display, "upwork")
    others = con.execute("SELECT count(*), string_agg(DISTINCT type_text, ', ') FROM _uww2 WHERE kind = 'other'").fetchone()
    if others[0]:
        ctx.warnings.append(f"{others[0]} row{'s' if others[0] != 1 else ''} of unknown payment type ({others[1]}) kept as 'other'")
    if skipped:
        ctx.warnings.append(f"{skipped} row{'s' if skipped != 1 else ''} without a contract (totals?) skipped")
    ctx.warnings.append("a weekly summary shows no fees: they are derived from Upwork's fee rules")
    _warn_other_upwork_layout(con, ctx, other_is_history=True)
