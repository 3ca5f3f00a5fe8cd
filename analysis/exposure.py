"""Portfolio exposure (agencies): what active contracts still owe, and how much of it is at risk.

For each active fixed-price contract with a known budget: *remaining* = budget − paid toward
it (never below 0); *funded* = unpaid milestones in escrow (status funded or submitted),
capped at the remaining value; *unfunded* = the rest — both unknown (NULL) for a contract a
transaction history brought while no milestone of it says whether its money is in escrow
(``funding_known``: such an export records payments, never funding); *submitted* = unpaid milestones waiting
for the client's release. *Expected loss* = remaining × the probability that a similar
contract was cancelled in the workspace's own history, where "similar" is taken as narrowly
as the history allows (``CANCEL_PROBABILITY_LEVELS``). Hourly contracts have no agreed
total: they are counted, never valued (no remaining value, no probability; what they were paid is
what their invoices brought). Everything is per currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import duckdb

from analysis.filters import (
    SMALL_SAMPLE_FINISHED,
    Filters,
    contracts_sql,
    derived_table,
    milestones_sql,
    uses_prepared,
)
from analysis.marketplace import from_transaction_history_sql

if TYPE_CHECKING:  # pandas loads on first use, so the import path (the kept tables' SQL) starts without it
    import pandas as pd

#: How the cancellation probability of an active contract is estimated: the first level with
#: at least ``SMALL_SAMPLE_FINISHED`` finished contracts in the whole workspace (filters do not
#: narrow the history) is used.
CANCEL_PROBABILITY_LEVELS = (
    ("structure_budget_band", "same currency, structure and budget band"),
    ("structure", "same structure (any currency or budget)"),
    ("all", "all finished contracts"),
)
GROUPINGS = {
    "structure": "structure",
    "client": "coalesce(client, '(no client)')",
    "freelancer": "coalesce(freelancer, '(no freelancer)')",
    "platform": "coalesce(platform, '(none)')",
}

#: How groups and contracts are ranked, largest risk first: by expected loss, then (when it cannot tell them
#: apart: unknown for want of finished history, or 0 for hourly-only work or nothing expected to be cancelled)
#: by what is still to be paid, so a list cut at its head keeps the most money at stake; then by name.
RISK_ORDER = "coalesce(expected_loss, 0) DESC, remaining DESC NULLS LAST"


#: Columns of ``active_contracts_sql``, in order.
_ACTIVE_COLUMNS = (
    "source", "contract_id", "client", "freelancer", "platform", "structure", "currency", "budget", "budget_band",
    "start_date", "planned_end_date", "paid", "remaining", "escrow_funded", "escrow_submitted", "funding_known",
    "funded", "unfunded", "submitted", "p_cancel", "p_basis", "p_finished",
)


def active_table(need: int) -> str:
    """Every active contract of the workspace with its values and probability (inside ``prepared``).

    None of it depends on the filters (the history, what was paid and what is in escrow are
    workspace-wide), so it is computed once per ``prepared`` block and the filters only pick
    rows; ``category`` comes along for them.
    """
    from analysis.earnings import contract_payments_table, paid_toward_budget_table

    def build() -> str:
        history, _ = contracts_sql(Filters())
        ms, _ = milestones_sql(Filters())
        return f"""
        WITH h AS (SELECT currency, structure, budget_band, cancelled FROM ({history}) WHERE finished),
        by_band AS (SELECT currency, structure, budget_band, count(*) AS n, avg(cancelled::INTEGER) AS p FROM h GROUP BY ALL),
        by_structure AS (SELECT structure, count(*) AS n, avg(cancelled::INTEGER) AS p FROM h GROUP BY ALL),
        overall AS (SELECT count(*) AS n, avg(cancelled::INTEGER) AS p FROM h),
        escrow AS (SELECT cid,
                          sum(amount) FILTER (WHERE status IN ('funded', 'submitted')) AS funded,
                          sum(amount) FILTER (WHERE status = 'submitted') AS submitted
                   FROM ({ms}) WHERE contract_status = 'active' AND paid_date IS NULL AND kind = 'milestone' GROUP BY ALL),
        -- a milestone that says whether its money is in escrow: a funded date, or unpaid and pending or funded
        -- (a transaction history records neither: only payments, paid or on their way)
        -- an hourly contract has no budget to pay toward: it was paid what its invoices brought
        invoiced AS (SELECT cid, sum(invoiced) AS paid FROM {contract_payments_table()} WHERE invoiced IS NOT NULL
                     GROUP BY cid),
        says_funding AS (SELECT DISTINCT cid FROM ({ms})
                         WHERE contract_status = 'active' AND kind = 'milestone'
                           AND (funded_date IS NOT NULL OR (paid_date IS NULL AND status IN ('pending', 'funded')))),
        a AS (
            SELECT c.source, c.contract_id, c.client, c.freelancer, c.platform, c.structure, c.currency,
                   c.budget, c.budget_band, c.start_date, c.planned_end_date,
                   coalesce(CASE WHEN c.structure = 'hourly' THEN invoiced.paid ELSE paid.paid END, 0) AS paid,
                   -- an hourly contract's budget (the template allows one) is no agreed total: never valued
                   CASE WHEN c.budget IS NOT NULL AND c.structure <> 'hourly'
                        THEN greatest(c.budget - coalesce(paid.paid, 0), 0) END AS remaining,
                   coalesce(escrow.funded, 0) AS escrow_funded, coalesce(escrow.submitted, 0) AS escrow_submitted,
                   says_funding.cid IS NOT NULL OR NOT {from_transaction_history_sql('c')} AS funding_known,
                   c.category
            FROM ({history}) c
            LEFT JOIN {paid_toward_budget_table()} paid ON paid.cid = c.cid
            LEFT JOIN invoiced ON invoiced.cid = c.cid
            LEFT JOIN escrow ON escrow.cid = c.cid
            LEFT JOIN says_funding ON says_funding.cid = c.cid
            WHERE c.status = 'active')
        SELECT a.*,
               CASE WHEN remaining IS NOT NULL AND funding_known THEN least(escrow_funded, remaining) END AS funded,
               CASE WHEN remaining IS NOT NULL AND funding_known THEN remaining - least(escrow_funded, remaining) END AS unfunded,
               CASE WHEN remaining IS NOT NULL THEN least(escrow_submitted, remaining) END AS submitted,
               -- hourly contracts are never valued: no probability to weigh a remaining value with
               CASE WHEN a.structure = 'hourly' THEN NULL WHEN b.n >= {need} THEN b.p WHEN s.n >= {need} THEN s.p
                    WHEN o.n > 0 THEN o.p END AS p_cancel,
               CASE WHEN a.structure = 'hourly' THEN NULL WHEN b.n >= {need} THEN 'structure_budget_band'
                    WHEN s.n >= {need} THEN 'structure' WHEN o.n > 0 THEN 'all' END AS p_basis,
               CASE WHEN a.structure = 'hourly' THEN NULL WHEN b.n >= {need} THEN b.n WHEN s.n >= {need} THEN s.n
                    ELSE o.n END AS p_finished
        FROM a
        LEFT JOIN by_band b ON b.currency = a.currency AND b.structure = a.structure AND b.budget_band = a.budget_band
        LEFT JOIN by_structure s ON s.structure = a.structure
        CROSS JOIN overall o"""

    return derived_table(f"active_values_{need}", build)


def active_contracts_sql(filters: Filters, min_history: int = SMALL_SAMPLE_FINISHED) -> tuple[str, list]:
    """Active contracts (filtered) with remaining, funded, unfunded, submitted value and the
    cancellation probability of similar contracts (``p_cancel``, ``p_basis``, ``p_finished``).

    ``min_history``: finished contracts a level of ``CANCEL_PROBABILITY_LEVELS`` needs to be used.
    """
    need = max(1, int(min_history))
    where, params = filters.where("a")
    sql = f"SELECT {', '.join(_ACTIVE_COLUMNS)} FROM {active_table(need)} a WHERE {where}"
    return sql, params


@uses_prepared
def exposure(con: duckdb.DuckDBPyConnection, filters: Filters, by: str | None = None,
             min_history: int = SMALL_SAMPLE_FINISHED) -> pd.DataFrame:
    """Exposure of active contracts per currency (and per ``by``: structure, client, freelancer, platform).

    Columns: currency, [by,] active, hourly_active (not valued), budget_unknown (not valued),
    valued (fixed with a budget), remaining, funded and unfunded (over the valued contracts whose funding
    is known; None when none is), submitted, expected_loss (None
    while some valued contract has no history to estimate it from: unknown, not 0), no_history
    (those contracts), fewest_finished (the fewest finished contracts an estimate rests on;
    below ``SMALL_SAMPLE_FINISHED`` the expected loss is only a rough guide), funding_unknown and
    funding_unknown_remaining (the valued contracts whose funding nothing records, and their remaining value:
    in neither funded nor unfunded).
    """
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    sql, params = active_contracts_sql(filters, min_history)
    key = f", {GROUPINGS[by]} AS {by}" if by else ""
    group = f", {by}" if by else ""
    return con.execute(
        f"""SELECT currency{key}, count(*) AS active,
                   count(*) FILTER (WHERE structure = 'hourly') AS hourly_active,
                   count(*) FILTER (WHERE structure <> 'hourly' AND budget IS NULL) AS budget_unknown,
                   count(remaining) AS valued,
                   coalesce(sum(remaining), 0)::DOUBLE AS remaining,
                   -- over the contracts whose funding is known; unknown (NULL), not 0, when none of them is
                   CASE WHEN count(remaining) = 0 OR count(funded) > 0 THEN coalesce(sum(funded), 0) END::DOUBLE AS funded,
                   CASE WHEN count(remaining) = 0 OR count(funded) > 0 THEN coalesce(sum(unfunded), 0) END::DOUBLE AS unfunded,
                   coalesce(sum(submitted), 0)::DOUBLE AS submitted,
                   -- unknown, not 0, while some valued contract has no history to estimate it from
                   CASE WHEN count(*) FILTER (WHERE remaining IS NOT NULL AND p_cancel IS NULL) = 0
                        THEN coalesce(sum(remaining * p_cancel), 0) END::DOUBLE AS expected_loss,
                   count(*) FILTER (WHERE remaining IS NOT NULL AND p_cancel IS NULL) AS no_history,
                   min(p_finished) FILTER (WHERE remaining IS NOT NULL AND p_cancel IS NOT NULL) AS fewest_finished,
                   count(*) FILTER (WHERE remaining IS NOT NULL AND NOT funding_known) AS funding_unknown,
                   coalesce(sum(remaining) FILTER (WHERE NOT funding_known), 0)::DOUBLE AS funding_unknown_remaining
            FROM ({sql})
            GROUP BY currency{group} ORDER BY currency, {RISK_ORDER}{group}""",
        params,
    ).df()


#: ``exposure``'s row (without ``currency``) for a currency with no active contract: nothing at stake,
#: so nothing expected to be lost; no estimate rests on any history.
NO_ACTIVE_CONTRACTS = {"active": 0, "hourly_active": 0, "budget_unknown": 0, "valued": 0, "remaining": 0.0,
                       "funded": 0.0, "unfunded": 0.0, "submitted": 0.0, "expected_loss": 0.0, "no_history": 0,
                       "fewest_finished": None, "funding_unknown": 0, "funding_unknown_remaining": 0.0}


def rough_history(totals_row: Mapping) -> int | None:
    """The finished contracts one row of ``exposure``'s expected loss rests on when they are fewer than
    ``SMALL_SAMPLE_FINISHED``, or None (enough of them, no history at all, or nothing valued).

    Below that threshold no group of similar contracts qualifies (``CANCEL_PROBABILITY_LEVELS``), so
    such an estimate always comes from all finished contracts of the workspace, of every kind."""
    if int(totals_row["no_history"]):
        return None
    try:
        fewest = int(totals_row["fewest_finished"])
    except (TypeError, ValueError):  # None, NaN or NA: nothing valued (only hourly work active, say)
        return None
    return fewest if fewest < SMALL_SAMPLE_FINISHED else None


def expected_loss_caveat(totals_row: Mapping) -> str | None:
    """What a reader must know about one row of ``exposure``'s expected loss (a sentence), or None.

    Unknown when no finished contract can estimate it; a rough guide from finished contracts of
    every kind, not similar ones, when it rests on fewer than ``SMALL_SAMPLE_FINISHED``."""
    if int(totals_row["no_history"]):
        return "The expected loss is unknown: no contract in the history has finished to estimate it from."
    fewest = rough_history(totals_row)
    if fewest is None:
        return None
    return (f"The expected loss rests on only {fewest} finished contract{'' if fewest == 1 else 's'} of every kind, "
            f"not on similar ones (no group of similar contracts has {SMALL_SAMPLE_FINISHED} finished): a rough "
            "guide, not an estimate to rely on.")


def funding_caveat(totals_row: Mapping) -> str | None:
    """What a reader must know about one row of ``exposure``'s funded and unfunded values (a sentence), or None:
    how many valued contracts have funding nothing records, left out of both."""
    n = int(totals_row.get("funding_unknown") or 0)
    if not n:
        return None
    amount = float(totals_row.get("funding_unknown_remaining") or 0)
    return (f"Escrow funding is unknown for {n} active contract{'' if n == 1 else 's'} ({amount:,.2f} of the remaining), "
            "left out of funded and unfunded: a transaction history records payments, never whether the rest is in "
            "escrow (a milestones CSV of the template with funded_date or status says it).")


@uses_prepared
def active_contracts(con: duckdb.DuckDBPyConnection, filters: Filters, limit: int | None = 50,
                     min_history: int = SMALL_SAMPLE_FINISHED) -> pd.DataFrame:
    """The active contracts with the largest expected loss first (for tables); ``limit`` None = all."""
    sql, params = active_contracts_sql(filters, min_history)
    cap = f"LIMIT {int(limit)}" if limit is not None else ""
    return con.execute(
        f"""SELECT source, contract_id, client, freelancer, platform, structure, currency, budget, paid,
                   remaining, funded, unfunded, submitted, p_cancel, p_basis, p_finished,
                   remaining * p_cancel AS expected_loss, start_date, planned_end_date
            FROM ({sql}) ORDER BY {RISK_ORDER}, contract_id {cap}""",
        params,
    ).df()


@uses_prepared
def probability_basis(con: duckdb.DuckDBPyConnection, filters: Filters,
                      min_history: int = SMALL_SAMPLE_FINISHED) -> pd.DataFrame:
    """How the valued active contracts' cancellation probabilities were estimated: basis, contracts."""
    sql, params = active_contracts_sql(filters, min_history)
    return con.execute(
        f"SELECT coalesce(p_basis, 'no history') AS basis, count(*) AS contracts FROM ({sql}) "
        "WHERE remaining IS NOT NULL GROUP BY 1 ORDER BY 1",
        params,
    ).df()


def _income_per_contract_sql(filters: Filters) -> tuple[str, list]:
    """Filtered contracts with income (``INCOME_KINDS`` and refunds) per payment currency:
    currency, client, gross (the sum of the contract's payments of those kinds)."""
    from analysis.earnings import contract_payments_table

    base, params = contracts_sql(filters)
    return (f"SELECT p.currency, c.client, p.income_gross AS gross FROM ({base}) c "
            f"JOIN {contract_payments_table()} p ON p.cid = c.cid WHERE p.income_gross IS NOT NULL"), params


@uses_prepared
def concentration(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """How concentrated earnings are on clients, per currency.

    Shares of gross earnings (money received for the work, refunds deducted) by client;
    ``hhi`` is the Herfindahl–Hirschman index on shares (0–1; 1 = one client). Payments of
    contracts without a client name are left out and shown as ``unattributed_gross``.
    Columns: currency, clients, gross, largest_client, largest_share, hhi, unattributed_gross.
    """
    per_contract, params = _income_per_contract_sql(filters)
    return con.execute(
        f"""WITH per AS (SELECT currency, client, sum(gross) AS gross FROM ({per_contract}) GROUP BY ALL),
            named AS (SELECT *, gross / sum(gross) OVER (PARTITION BY currency) AS share FROM per
                      WHERE client IS NOT NULL AND gross > 0)
            SELECT currency, count(*) AS clients, sum(gross)::DOUBLE AS gross,
                   arg_max(client, share) AS largest_client, max(share)::DOUBLE AS largest_share,
                   sum(share * share)::DOUBLE AS hhi,
                   coalesce((SELECT sum(gross) FROM per p2 WHERE p2.currency = named.currency AND p2.client IS NULL), 0)::DOUBLE
                       AS unattributed_gross
            FROM named GROUP BY currency ORDER BY currency""",
        params,
    ).df()


@uses_prepared
def top_clients(con: duckdb.DuckDBPyConnection, filters: Filters, limit: int = 10) -> pd.DataFrame:
    """The clients with the largest share of gross earnings, per currency: currency, client, gross, share."""
    per_contract, params = _income_per_contract_sql(filters)
    return con.execute(
        f"""WITH per AS (SELECT currency, client, sum(gross) AS gross FROM ({per_contract})
                         WHERE client IS NOT NULL GROUP BY ALL HAVING sum(gross) > 0)
            SELECT currency, client, gross::DOUBLE AS gross, (gross / sum(gross) OVER (PARTITION BY currency))::DOUBLE AS share
            FROM per QUALIFY row_number() OVER (PARTITION BY currency ORDER BY gross DESC, client) <= ?
            ORDER BY currency, gross DESC, client""",
        params + [int(limit)],
    ).df()
