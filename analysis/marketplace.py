"""What the marketplace readers (Upwork, Upwork weekly summary, Freelancer.com) share.

A marketplace export lists *transactions*, not contracts. Each reader turns its rows into
payments (``in_payments``), keyed by something the export repeats identically (Upwork's
transaction id, or date + contract + type), so that overlapping exports never count a
transaction twice. Contracts and milestones are then rebuilt from every payment known for
them — in this import and already in the workspace — so a newer export that starts later
than an older one neither loses early milestones nor double-counts shared ones.

Money conventions for payments read from exports:

* contract payments (kind ``milestone``, ``hourly``, ``bonus``, ``refund``): ``gross`` is what
  the client paid (negative for refunds), ``fee`` what the platform took from it, including
  VAT/GST charged on that fee;
* ``fee``: a fee row whose payment is not in the same file (rare: fees are charged on the day
  of their payment), kept on its own with ``gross`` 0 so per-contract sums stay right; on its
  payment's contract once a file brings that payment (in either order), until then without a
  contract and counted with the account costs (``earnings.account_costs``);
* ``account_cost`` (contract NULL): Connects, membership, withdrawal fees — ``gross`` 0,
  ``fee`` the cost;
* ``withdrawal`` (contract NULL): money moved out, not a cost — ``gross`` the signed amount;
* ``other``: types the reader does not know, kept as they are and named in the warnings.
"""

from __future__ import annotations

import duckdb

from analysis.wording import plural

# The contract statuses and budgets an export cannot know are completed by the user.
#: Words for both interfaces (the dashboard shows the import's warnings as they are): where each
#: does it, the Data page or the command, not one interface's instructions alone.
COMPLETION_HINT = (
    "complete their status and budget on the Data page (Complete contracts tab), or import a completions CSV "
    "(contract_id, status, budget, planned_milestones; the command milestone-lens completions writes one to "
    "fill in); until then they are left out of cancellation figures"
)
PAYMENT_KINDS_WITH_SEQ = ("milestone", "hourly")
#: The formats that rebuild contracts from payments (a contract is in them only once it was paid).
TRANSACTION_HISTORY_FORMATS = ("upwork", "upwork-weekly", "freelancer")
#: What a transaction history cannot hold, and how to add it: said once, by the import's warnings,
#: the report's notes and the Data page's "Complete contracts" tab.
NOT_IN_TRANSACTION_HISTORY = (
    "an export of payments (a transaction history, a weekly summary) lists only payments, so a contract cancelled "
    "(or not yet paid) before its first payment is "
    "not in it: cancellation rates, unpaid on cancellation and expected loss leave such contracts out; add them "
    "with a contracts CSV of the template (contract_id, client, title, platform, budget, currency, start_date, "
    "end_date, status) imported under the export's source, upwork or freelancer (Source name on the Data page's "
    "Import tab, --source on the command line), each named as the export names its contracts (client, slash, "
    "title: Acme Co / Site audit), so that a "
    "payment a later export brings joins the same contract"
)


def from_transaction_history_sql(c: str = "c") -> str:
    """SQL true for a contract (alias ``c`` with source, contract_id, start_estimated) a transaction
    history brought: its first import was of one of ``TRANSACTION_HISTORY_FORMATS``, or its start is
    still only its first payment's (kept by a Parquet round trip, which the import log is not)."""
    formats = ", ".join(f"'{f}'" for f in TRANSACTION_HISTORY_FORMATS)
    return (f"({c}.start_estimated OR EXISTS (SELECT 1 FROM main.contracts o JOIN main.imports i "
            f"ON i.import_id = o.first_import_id WHERE o.source = {c}.source AND o.contract_id = {c}.contract_id "
            f"AND i.format IN ({formats})))")


def norm_text_sql(expr: str) -> str:
    """Trimmed, single-spaced text, NULL when empty."""
    return f"nullif(regexp_replace(trim({expr}), '\\s+', ' ', 'g'), '')"


def contract_id_sql(client: str, title: str) -> str:
    """A readable, deterministic contract id: ``<client> / <title>`` (the same in every export)."""
    return f"coalesce({norm_text_sql(client)}, '(no client)') || ' / ' || coalesce({norm_text_sql(title)}, '(untitled)')"


def add_contracts(con: duckdb.DuckDBPyConnection, ctx, table: str, display: str, platform: str, currency: str = "USD") -> None:
    """Append contracts read from temp ``table`` to ``in_contracts``.

    ``table`` has (contract_id, client, freelancer, title, contract_type, start_date, _row), one
    row per transaction. Rows for the same contract from earlier files of this import and the
    workspace are combined: the earliest start date wins, and what only the workspace knows
    (status, budget, end dates set by another import) is kept. The start date is the first
    payment's (``start_estimated``) unless the workspace holds an earlier real one.
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _mk_contracts AS
            WITH rows AS (
                SELECT contract_id, client, freelancer, title, contract_type, currency, start_date, _row, ? AS _file,
                       ? AS _import_id
                FROM (SELECT *, ? AS currency FROM {table})
                UNION ALL
                SELECT contract_id, client, freelancer, title, contract_type, currency, start_date, _row, _file, _import_id
                FROM in_contracts WHERE source = ? AND contract_id IN (SELECT contract_id FROM {table})
            ), combined AS (
                SELECT contract_id,
                       arg_min(client, start_date) FILTER (WHERE client IS NOT NULL) AS client,
                       arg_min(freelancer, start_date) FILTER (WHERE freelancer IS NOT NULL) AS freelancer,
                       arg_min(title, start_date) FILTER (WHERE title IS NOT NULL) AS title,
                       max(contract_type) AS contract_type,  -- 'hourly' > 'fixed'
                       min(currency) AS currency,
                       min(start_date) AS start_date,
                       min(_import_id) AS _import_id,
                       arg_min(_file, (_import_id, _row)) AS _file,
                       arg_min(_row, (_import_id, _row)) AS _row
                FROM rows GROUP BY contract_id
            )
            SELECT ? AS source, n.contract_id,
                   coalesce(w.client, n.client) AS client, coalesce(w.freelancer, n.freelancer) AS freelancer,
                   coalesce(w.title, n.title) AS title, w.category,
                   coalesce(w.platform, ?) AS platform, n.contract_type, w.budget,
                   coalesce(w.currency, n.currency) AS currency,
                   CASE WHEN w.start_date IS NULL THEN n.start_date ELSE least(w.start_date, n.start_date) END AS start_date,
                   w.planned_end_date, w.end_date, w.status, w.milestone_count, w.paid_total,
                   -- the first payment stands in for the start, unless the workspace knows an earlier real one
                   NOT coalesce(NOT w.start_estimated AND w.start_date <= n.start_date, false) AS start_estimated,
                   n._import_id, n._file, n._row
            FROM combined n LEFT JOIN contracts w ON w.source = ? AND w.contract_id = n.contract_id""",
        [display, ctx.import_id, currency, ctx.source, ctx.source, platform, ctx.source],
    )
    con.execute(f"DELETE FROM in_contracts WHERE source = ? AND contract_id IN (SELECT contract_id FROM {table})", [ctx.source])
    con.execute("INSERT INTO in_contracts SELECT * FROM _mk_contracts")


def add_payments(con: duckdb.DuckDBPyConnection, ctx, table: str, display: str) -> None:
    """Append payments from temp ``table`` (in_payments' columns without source/_import_id/_file).

    A transaction already read from an earlier file of the same import is kept once: the
    settled copy wins over a pending one (an older export may show it before release), then a
    copy with a fee over one without (its fee row was in the other file), whatever the file order.
    """
    con.execute(
        f"""DELETE FROM in_payments i USING {table} n
            WHERE i.source = ? AND i.payment_key = n.payment_key
              AND ((i.pending AND NOT n.pending) OR (i.pending = n.pending AND i.fee = 0 AND n.fee <> 0))""",
        [ctx.source],
    )
    con.execute(
        f"""INSERT INTO in_payments
            SELECT ?, n.payment_key, n.contract_id, n.seq, n.kind, n.paid_date, n.gross, n.fee, n.currency,
                   n.pending, n.description, ?, ?, n._row
            FROM {table} n
            WHERE NOT EXISTS (SELECT 1 FROM in_payments i WHERE i.source = ? AND i.payment_key = n.payment_key)""",
        [ctx.source, ctx.import_id, display, ctx.source],
    )


def number_milestones(con: duckdb.DuckDBPyConnection, ctx, contracts_sql: str, moment_sql: str = "paid_date") -> None:
    """Number the milestone payments of exports that carry no milestone number (1, 2, … by time).

    ``moment_sql`` (over ``payment_key`` and ``paid_date``) is when a payment was made, to the
    precision the export gives. Payments at the same moment are numbered in the order their file
    lists them, read in the file's own direction (reversed in a file whose dates run newest first),
    never by amount: "Part 1" and "Part 2" released together stay 1 and 2. The numbering runs over
    every milestone payment known for the contract — this import's and the workspace's — so an older
    export imported after a newer one slots in correctly; workspace payments whose number moves are
    re-emitted with the new number (the workspace's own order, its numbers, breaks their ties).
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _mk_num AS
            WITH direction AS (
                SELECT _import_id, arg_max(paid_date, _row) < arg_min(paid_date, _row) AS newest_first
                FROM in_payments WHERE source = ? AND _row IS NOT NULL GROUP BY _import_id
            ), u AS (
                SELECT i.payment_key, i.contract_id, i.paid_date, true AS staged,
                       CASE WHEN d.newest_first THEN -i._row ELSE i._row END AS listed, i.seq AS old_seq
                FROM in_payments i LEFT JOIN direction d USING (_import_id)
                WHERE i.source = ? AND i.kind = 'milestone' AND i.contract_id IN ({contracts_sql})
                UNION ALL
                SELECT payment_key, contract_id, paid_date, false, NULL, seq FROM payments p
                WHERE source = ? AND kind = 'milestone' AND contract_id IN ({contracts_sql})
                  AND NOT EXISTS (SELECT 1 FROM in_payments i WHERE i.source = p.source AND i.payment_key = p.payment_key)
            )
            SELECT payment_key, contract_id, paid_date, staged,
                   CAST(row_number() OVER (PARTITION BY contract_id
                        ORDER BY paid_date, {moment_sql}, listed NULLS LAST, old_seq, payment_key) AS INTEGER) AS new_seq
            FROM u""",
        [ctx.source, ctx.source, ctx.source],
    )
    con.execute(
        """UPDATE in_payments i SET seq = n.new_seq FROM _mk_num n
           WHERE i.source = ? AND i.payment_key = n.payment_key AND n.staged""",
        [ctx.source],
    )
    # Fee rows kept on their own follow the payment they belong to (same contract and old seq).
    con.execute(
        """INSERT INTO in_payments
           SELECT p.source, p.payment_key, p.contract_id, n.new_seq, p.kind, p.paid_date, p.gross, p.fee, p.currency,
                  p.pending, p.description, ?, ?, NULL
           FROM payments p JOIN _mk_num n ON p.payment_key = n.payment_key AND NOT n.staged
           WHERE p.source = ? AND p.seq IS DISTINCT FROM n.new_seq""",
        [ctx.import_id, "(renumbered)", ctx.source],
    )


def _warn_milestones_paid_twice(con: duckdb.DuckDBPyConnection, ctx) -> None:
    """A milestone number paid by more than one payment is added up as one milestone: right for a
    milestone released in parts, wrong for two contracts the export names alike (a client's second
    "Blog post"): an export names a contract by client and title only, so it is said, not guessed."""
    found = con.execute(
        """WITH twice AS (
               SELECT contract_id, seq, count(*) AS n, list(gross ORDER BY paid_date, payment_key) AS amounts,
                      list(paid_date ORDER BY paid_date, payment_key) AS dates
               FROM _mk_pay WHERE kind = 'milestone' GROUP BY ALL HAVING count(*) > 1 AND bool_or(staged))
           SELECT count(*) OVER (), contract_id, seq, amounts, dates FROM twice ORDER BY contract_id, seq LIMIT 1"""
    ).fetchone()
    if found is None:
        return
    n, contract_id, seq, amounts, dates = found
    paid = " and ".join(f"{a:,.2f} on {d.isoformat() if d else 'an unknown date'}" for a, d in zip(amounts, dates))
    ctx.warnings.append(
        f"{plural(n, 'milestone')} paid in more than one payment (first: '{contract_id}', milestone {seq}: {paid}): "
        f"added up as one milestone; if {'it was' if n == 1 else 'some were'} another contract with the same client and "
        "title, the export cannot tell them apart")


def rebuild_milestones(
    con: duckdb.DuckDBPyConnection, ctx, display: str, contracts_sql: str, description_sql: str = "{d}",
) -> None:
    """Milestone rows (hourly: invoice rows) from every payment known for them.

    Only milestones of the contracts ``contracts_sql`` selects (this file's) are written. A milestone is ``paid`` when
    every payment for it is settled, ``submitted`` while one is pending, ``refunded`` when
    refunds cover it. Hourly invoices carry the week in ``seq`` (yyyymmdd of its Monday): the
    week's Sunday becomes the submitted date. ``description_sql`` turns the payment's text
    ``{d}`` into the milestone's description.
    """
    desc = description_sql.format(d="first_text")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _mk_pay AS
           SELECT payment_key, contract_id, seq, kind, paid_date, gross, fee, pending, description, _row, _file, true AS staged
           FROM in_payments WHERE source = ? AND seq IS NOT NULL AND contract_id IN ({contracts_sql})
           UNION ALL
           SELECT payment_key, contract_id, seq, kind, paid_date, gross, fee, pending, description, NULL, NULL, false
           FROM payments p
           WHERE source = ? AND seq IS NOT NULL AND contract_id IN ({contracts_sql})
             AND NOT EXISTS (SELECT 1 FROM in_payments i WHERE i.source = p.source AND i.payment_key = p.payment_key)""",
        [ctx.source, ctx.source],
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _mk_ms AS
            WITH g AS (
                SELECT contract_id, seq,
                       arg_min(description, (paid_date, payment_key)) FILTER (WHERE kind IN {PAYMENT_KINDS_WITH_SEQ}) AS first_text,
                       bool_or(kind = 'hourly') AS hourly,
                       sum(gross) FILTER (WHERE kind IN {PAYMENT_KINDS_WITH_SEQ}) AS amount,
                       sum(gross) FILTER (WHERE kind IN {PAYMENT_KINDS_WITH_SEQ} AND NOT pending) AS settled,
                       coalesce(-sum(gross) FILTER (WHERE kind = 'refund'), 0) AS refunded,
                       bool_or(pending) FILTER (WHERE kind IN {PAYMENT_KINDS_WITH_SEQ}) AS any_pending,
                       max(paid_date) FILTER (WHERE kind IN {PAYMENT_KINDS_WITH_SEQ}) AS last_date,
                       -- its own payments' fees (a refund's returned fee too), not a bonus's paid with it
                       coalesce(sum(fee) FILTER (WHERE kind <> 'bonus'), 0) AS fee,
                       bool_or(staged) AS staged,
                       arg_min(_file, _row) FILTER (WHERE staged) AS _file,
                       min(_row) FILTER (WHERE staged) AS _row
                FROM _mk_pay GROUP BY contract_id, seq
            )
            SELECT ? AS source, contract_id, seq, {desc} AS description, amount,
                   CAST(NULL AS DATE) AS due_date, CAST(NULL AS DATE) AS funded_date,
                   CASE WHEN hourly THEN CAST(try_strptime(CAST(seq AS VARCHAR), '%Y%m%d') AS DATE) + 6 END AS submitted_date,
                   CASE WHEN NOT any_pending THEN last_date END AS paid_date,
                   CASE WHEN settled IS NOT NULL THEN settled - refunded END AS paid_amount,
                   fee,
                   CASE WHEN refunded > 0 AND refunded >= amount THEN 'refunded'
                        WHEN NOT any_pending THEN 'paid' ELSE 'submitted' END AS status,
                   CASE WHEN hourly THEN 'invoice' ELSE 'milestone' END AS kind,
                   ? AS _import_id, coalesce(_file, ?) AS _file, _row
            FROM g WHERE staged AND amount IS NOT NULL""",
        [ctx.source, ctx.import_id, display],
    )
    _warn_milestones_paid_twice(con, ctx)
    con.execute(
        """DELETE FROM in_milestones m USING _mk_ms n
           WHERE m.source = n.source AND m.contract_id = n.contract_id AND m.seq = n.seq""",
    )
    con.execute("INSERT INTO in_milestones SELECT * FROM _mk_ms")
