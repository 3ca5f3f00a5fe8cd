"""Earnings: what clients paid (gross), what platforms took (fees) and what was left (net).

Every table is per currency — amounts in different currencies are never added. Only earned
payments count (Upwork rows with an empty balance are ``pending`` and shown separately).
Bonuses and refunds are part of gross and also shown on their own; account costs
(withdrawal fees, connects, memberships: payments without a contract) are never contract
fees and are reported by ``account_costs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from analysis.filters import (
    INCOME_KINDS,
    SMALL_SAMPLE_FINISHED,
    TOWARD_BUDGET_KINDS,
    Filters,
    contracts_sql,
    derived_table,
    payments_sql,
    uses_prepared,
)
from analysis.wording import STRUCTURE_WORDS

if TYPE_CHECKING:  # pandas loads on first use, so the import path (the kept tables' SQL) starts without it
    import pandas as pd

#: Dimensions ``totals`` can group by, and the SQL for each (over ``payments_sql`` columns).
GROUPINGS = {
    "structure": "structure",
    "client": "coalesce(client, '(no client)')",
    "freelancer": "coalesce(freelancer, '(no freelancer)')",
    "platform": "coalesce(platform, '(none)')",
    "category": "coalesce(category, '(none)')",
    "month": "coalesce(strftime(date_trunc('month', paid_date), '%Y-%m'), 'undated')",
}
_MONEY = ("gross", "fees", "net", "bonuses", "refunds")


def _kinds(kinds: tuple[str, ...]) -> str:
    return ", ".join(f"'{k}'" for k in kinds)


def contract_payments_table() -> str:
    """Per contract and payment currency, the sums of its earned payments (inside ``prepared``).

    Columns: cid, currency, payments, gross, fee, net, bonuses, refunds (NULL when none),
    income_gross (money received for the work, refunds deducted: ``INCOME_KINDS`` and refunds;
    NULL when none), toward_budget (``TOWARD_BUDGET_KINDS``; NULL when none), invoiced (hourly
    invoices paid, refunds deducted: what an hourly contract, which has no budget, was paid; NULL when none). The filters never
    split a contract, so every contract-level grouping sums these rows instead of every payment.
    """
    pay, _ = payments_sql(Filters())
    income = _kinds(INCOME_KINDS + ("refund",))
    toward = _kinds(TOWARD_BUDGET_KINDS)
    return derived_table("contract_payments", lambda: f"""
        SELECT cid, currency, count(*) AS payments, sum(gross) AS gross, sum(fee) AS fee, sum(gross - fee) AS net,
               sum(gross) FILTER (WHERE kind = 'bonus') AS bonuses, sum(gross) FILTER (WHERE kind = 'refund') AS refunds,
               sum(gross) FILTER (WHERE kind IN ({income})) AS income_gross,
               sum(gross) FILTER (WHERE kind IN ({toward})) AS toward_budget,
               sum(gross) FILTER (WHERE kind IN ('hourly', 'refund')) AS invoiced
        FROM ({pay}) GROUP BY cid, currency""")


def paid_toward_budget_table() -> str:
    """Per contract with a payment toward its budget (any currency): cid, paid (inside ``prepared``).

    The sum of ``contract_payments_table``'s per-currency sums (DECIMAL: exact), not another pass
    over every payment."""
    per_currency = contract_payments_table()
    return derived_table("paid_toward_budget", lambda: f"""
        SELECT cid, sum(toward_budget) AS paid FROM {per_currency} WHERE toward_budget IS NOT NULL GROUP BY cid""")


@uses_prepared
def totals(con: duckdb.DuckDBPyConnection, filters: Filters, by: str | None = "structure",
           limit: int | None = None, count_contracts: bool = True) -> pd.DataFrame:
    """Gross, fees, net per currency (and per ``by``: structure, client, freelancer, platform,
    category or month of payment), with the effective fee rate and bonuses and refunds.
    ``limit`` keeps the groups with the largest gross in each currency.

    Columns: currency, [by,] contracts (with at least one payment; only with
    ``count_contracts``), payments, gross, fees,
    net, effective_fee_rate (fees / gross), bonuses, refunds (negative amounts); with ``limit``
    also groups (how many groups the currency has before the cut).
    """
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    key = f", {GROUPINGS[by]} AS {by}" if by else ""
    group = f", {by}" if by else ""
    if by == "month":
        # A property of each payment: aggregate the payments themselves.
        pay, params = payments_sql(filters)
        contracts = "count(DISTINCT cid) AS contracts, " if count_contracts else ""
        rows = (f"(SELECT *, gross - fee AS net, CASE WHEN kind = 'bonus' THEN gross END AS bonuses, "
                f"CASE WHEN kind = 'refund' THEN gross END AS refunds FROM ({pay}))")
        payments = "count(*)"
    else:
        # Every other grouping is a property of the contract: sum the per-contract sums (exact, the
        # amounts are DECIMAL), and each (contract, currency) row is one contract with a payment.
        base, params = contracts_sql(filters)
        rows = (f"(SELECT c.structure, c.client, c.freelancer, c.platform, c.category, p.* "
                f"FROM ({base}) c JOIN {contract_payments_table()} p ON p.cid = c.cid)")
        contracts = "count(*) AS contracts, " if count_contracts else ""
        payments = "sum(payments)::BIGINT"
    groups = ", count(*) OVER (PARTITION BY currency) AS groups" if limit else ""
    df = con.execute(
        f"""SELECT currency{key}, {contracts}{payments} AS payments,
                   sum(gross)::DOUBLE AS gross, sum(fee)::DOUBLE AS fees, sum(net)::DOUBLE AS net,
                   coalesce(sum(bonuses), 0)::DOUBLE AS bonuses,
                   coalesce(sum(refunds), 0)::DOUBLE AS refunds{groups}
            FROM {rows}
            GROUP BY currency{group}
            {f"QUALIFY row_number() OVER (PARTITION BY currency ORDER BY sum(gross) DESC{group}) <= {int(limit)}" if limit else ""}
            ORDER BY currency{group if by in ('month', 'structure') else ', gross DESC' + group}""",
        params,
    ).df()
    df["effective_fee_rate"] = (df["fees"] / df["gross"].where(df["gross"] != 0)).astype(float)
    return df


@uses_prepared
def pending(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Payments not yet earned (pending), per currency: items, gross, fees."""
    pay, params = payments_sql(filters, include_pending=True)
    return con.execute(
        f"""SELECT currency, count(*) AS items, sum(gross)::DOUBLE AS gross, sum(fee)::DOUBLE AS fees
            FROM ({pay}) WHERE pending GROUP BY currency ORDER BY currency""",
        params,
    ).df()


def _paid_toward_budget_sql(filters: Filters) -> tuple[str, list]:
    """Fixed-price contracts with what was paid toward their budget (0 when nothing was)."""
    base, params = contracts_sql(filters)
    sql = f"""SELECT c.*, coalesce(p.paid, 0) AS paid
              FROM ({base}) c LEFT JOIN {paid_toward_budget_table()} p ON p.cid = c.cid
              WHERE c.contract_type = 'fixed'"""
    return sql, params


@uses_prepared
def realised_vs_agreed(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Paid toward the budget against the agreed budget, per currency, structure and status.

    Fixed-price contracts only; those with an unknown budget are counted in
    ``budget_unknown`` and left out of the sums (empty when no budget of the group is known). Columns: currency, structure, status,
    contracts, budget_unknown, agreed, paid, realised_share (paid / agreed).
    """
    sql, params = _paid_toward_budget_sql(filters)
    df = con.execute(
        f"""SELECT currency, structure, coalesce(status, 'unknown') AS status, count(*) AS contracts,
                   count(*) FILTER (WHERE budget IS NULL) AS budget_unknown,
                   -- empty (not 0) when no budget of the group is known: nothing is known of it
                   sum(budget)::DOUBLE AS agreed,
                   CASE WHEN count(budget) > 0 THEN coalesce(sum(paid) FILTER (WHERE budget IS NOT NULL), 0) END::DOUBLE AS paid
            FROM ({sql}) GROUP BY ALL ORDER BY currency, structure, status""",
        params,
    ).df()
    df["realised_share"] = (df["paid"] / df["agreed"].where(df["agreed"] > 0)).astype(float)
    return df


#: The fixed-price structures ``paid_when_cancelled_sentence`` compares.
_FIXED_PRICE = ("milestones", "single")


def paid_when_cancelled_sentence(realised: pd.DataFrame, currency: str | None = None,
                                 strong=lambda text: text) -> str | None:
    """What cancelled and disputed contracts had still paid of their agreed price, milestones against
    single payment, in words — over one currency's rows of ``realised_vs_agreed`` — or None when
    neither kind has such a contract with a known budget.

    The small-sample rule: with fewer than ``SMALL_SAMPLE_FINISHED`` of them on a side, the counts
    and amounts (in ``currency``) are given and no comparison is drawn. ``strong`` wraps the
    figures (markdown bold on the dashboard)."""
    ended = realised[realised["status"].isin(["cancelled", "disputed"]) & realised["structure"].isin(_FIXED_PRICE)]
    ended = ended.assign(known=ended["contracts"] - ended["budget_unknown"])
    sums = ended.groupby("structure")[["known", "agreed", "paid"]].sum()
    sums = sums[(sums["known"] > 0) & (sums["agreed"] > 0)]
    if sums.empty:
        return None
    if set(sums.index) == set(_FIXED_PRICE) and int(sums["known"].min()) >= SMALL_SAMPLE_FINISHED:
        milestones, single = (f"{sums.at[s, 'paid'] / sums.at[s, 'agreed'] * 100:.0f} %" for s in ("milestones", "single"))
        return ("When a contract was cancelled or disputed, milestone contracts had still paid "
                f"{strong(milestones)} of the agreed price, single-payment contracts {strong(single)}.")
    parts = []
    for structure in _FIXED_PRICE:
        if structure in sums.index:
            n, agreed, paid = int(sums.at[structure, "known"]), sums.at[structure, "agreed"], sums.at[structure, "paid"]
            noun = f"cancelled or disputed {STRUCTURE_WORDS[structure]} contract{'' if n == 1 else 's'}"
            amounts = f"{currency + ' ' if currency else ''}{paid:,.0f} of {agreed:,.0f}"
            parts.append(f"the {n:,} {noun}: {strong(amounts)} paid")
    listed = "; ".join(parts)
    return (f"{listed[:1].upper()}{listed[1:]}. Too few to compare what milestone and single-payment contracts still "
            f"paid when cancelled: that needs at least {SMALL_SAMPLE_FINISHED} cancelled or disputed contracts of "
            "each kind with a known budget.")


@uses_prepared
def unpaid_on_cancellation(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """What cancelled and disputed fixed-price contracts left unpaid, per currency and structure.

    SPEC: the sum of budget minus what was paid toward it. A contract paid more than its
    budget counts 0, not a negative loss. Contracts with an unknown budget are counted in
    ``budget_unknown``. Columns: currency, structure, cancelled_contracts, budget_unknown,
    agreed, paid, unpaid_on_cancellation.
    """
    sql, params = _paid_toward_budget_sql(filters)
    return con.execute(
        f"""SELECT currency, structure, count(*) AS cancelled_contracts,
                   count(*) FILTER (WHERE budget IS NULL) AS budget_unknown,
                   -- empty (not 0) when no budget of the group is known: nothing is known of it
                   sum(budget)::DOUBLE AS agreed,
                   CASE WHEN count(budget) > 0 THEN coalesce(sum(paid) FILTER (WHERE budget IS NOT NULL), 0) END::DOUBLE AS paid,
                   coalesce(sum(greatest(budget - paid, 0)), 0)::DOUBLE AS unpaid_on_cancellation
            FROM ({sql}) WHERE status IN ('cancelled', 'disputed') GROUP BY ALL ORDER BY currency, structure""",
        params,
    ).df()


def account_costs(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Costs of the account itself (withdrawal fees, connects, memberships), per currency, and fee
    rows whose payment no import has brought yet (kind ``fee`` without a contract): left out,
    they would count nowhere.

    They belong to no contract, so only the date range (applied to the payment date) and the
    currency filter apply. Amounts are as imported (costs are usually negative gross).
    Columns: currency, items, amount, fees, first_date, last_date.
    """
    return _account_rows(con, filters, "(kind = 'account_cost' OR (kind = 'fee' AND contract_id IS NULL))")


def unclassified(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Money of transaction types no reader knows (``other``: an export's new or miscellaneous types),
    per currency: kept as imported but in no contract's earnings, so shown apart rather than lost.
    Filtered as ``account_costs``. Columns: currency, items, amount, fees, first_date, last_date, descriptions
    (the first three, as the export wrote them)."""
    return _account_rows(con, filters, "kind = 'other'",
                         "array_to_string(list_slice(list(DISTINCT description ORDER BY description), 1, 3), '; ') AS descriptions")


def _account_rows(con: duckdb.DuckDBPyConnection, filters: Filters, kinds: str, extra: str | None = None) -> pd.DataFrame:
    """Released payments of ``kinds`` (a condition) per currency, under the date range (on the payment
    date) and the currency filter: the account's own rows, which belong to no contract."""
    clauses, params = [kinds, "NOT pending"], []
    if filters.date_from:
        clauses.append("paid_date >= ?")
        params.append(filters.date_from)
    if filters.date_to:
        clauses.append("paid_date <= ?")
        params.append(filters.date_to)
    currencies = filters.values("currency")
    if currencies:
        clauses.append(f"currency IN ({', '.join('?' for _ in currencies)})")
        params += list(currencies)
    return con.execute(
        f"""SELECT currency, count(*) AS items, sum(gross)::DOUBLE AS amount, sum(fee)::DOUBLE AS fees,
                   min(paid_date) AS first_date, max(paid_date) AS last_date{', ' + extra if extra else ''}
            FROM payments WHERE {' AND '.join(clauses)} GROUP BY currency ORDER BY currency""",
        params,
    ).df()


def contract_filters_in(filters: Filters) -> list[str]:
    """The filters that pick contracts (client, freelancer, category, platform) among ``filters``:
    account costs belong to no contract, so a net they narrow is not the account's to take them off."""
    return [name for name in ("client", "freelancer", "category", "platform") if filters.values(name)]


def net_after_account_costs(net: float, costs: pd.DataFrame) -> float:
    """Net earnings less the account costs of ``account_costs`` (one currency's rows).

    Importers book a cost either as a fee on a zero amount or as a negative amount, as
    imported: either way it is taken off.
    """
    if costs.empty:
        return float(net)
    return float(net) + float(costs["amount"].sum()) - float(costs["fees"].sum())


@uses_prepared
def months(con: duckdb.DuckDBPyConnection, filters: Filters, count_contracts: bool = True) -> pd.DataFrame:
    """``totals(by='month')`` with months without payments filled in (gross 0), per currency."""
    import pandas as pd
    df = totals(con, filters, by="month", count_contracts=count_contracts)
    dated = df[df["month"] != "undated"]
    if dated.empty:
        return df
    frames = []
    for currency, part in dated.groupby("currency"):
        span = pd.period_range(part["month"].min(), part["month"].max(), freq="M").strftime("%Y-%m")
        full = pd.DataFrame({"month": span}).merge(part, on="month", how="left")
        full["currency"] = currency
        for col in ("contracts", "payments"):
            if col in full:
                full[col] = full[col].fillna(0).astype("int64")
        for col in _MONEY:
            full[col] = full[col].fillna(0.0)
        frames.append(full[df.columns])
    undated = df[df["month"] == "undated"]
    return pd.concat(frames + ([undated] if len(undated) else []), ignore_index=True)
