"""Payment timing: when money arrives, and when it can be withdrawn, per payment structure.

All measures are day differences computed in DuckDB. SPEC.md fixes two of them:
``start_to_first_payment`` is taken over every contract with at least one payment (active
ones included): first ``paid_date`` − ``start_date``; ``submission_to_payment`` over every
paid milestone (or hourly invoice) with both dates: ``paid_date`` − ``submitted_date``.
Withdrawable dates add the platform's holds from ``analysis.platforms``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from analysis.filters import (
    INCOME_KINDS,
    SMALL_SAMPLE_FINISHED,
    TOWARD_BUDGET_KINDS,
    Filters,
    contracts_sql,
    derived_table,
    milestones_sql,
    payments_sql,
    uses_prepared,
)
from analysis.platforms import (
    FIVERR_CLEARANCE_DAYS,
    UPWORK_HOURLY_AVAILABLE_AFTER_WEEK_END_DAYS,
    UPWORK_SECURITY_HOLD_DAYS,
)
from analysis.wording import counted, plural

if TYPE_CHECKING:  # pandas loads on first use, so the import path (the kept tables' SQL) starts without it
    import pandas as pd

STRUCTURES = ("milestones", "single", "hourly")
MEASURES = {
    "start_to_first_payment": "Start → first payment",
    "submission_to_payment": "Submission → payment",
    "funded_to_paid": "Funded → paid",
    "gap_between_payments": "Gap between payments",
    "start_to_first_withdrawable": "Start → first withdrawable money",
    "submission_to_withdrawable": "Submission → withdrawable",
}
AGEING_BUCKETS = (("0–30 days", 0, 30), ("31–60 days", 31, 60), ("61–90 days", 61, 90), ("over 90 days", 91, None))


@dataclass(frozen=True)
class DaysComparison:
    """Whether one structure's days of a measure run shorter than another's: the Brunner–Munzel rank
    test (statsmodels ``rank_compare_2indep``), which needs no equal spreads and lets ties be, over
    every measured case (a median alone says nothing of how sure the difference is)."""

    measure: str
    a: str
    b: str
    a_n: int
    b_n: int
    #: P(a's days < b's) + ½ P(equal): 0.5 when neither runs shorter.
    prob_a_sooner: float | None
    ci: tuple[float, float] | None  # 95 % interval of ``prob_a_sooner``
    p_value: float | None
    test_method: str = "Brunner–Munzel rank test (two-sided)"

    @property
    def clear_difference(self) -> bool:
        """Enough cases on both sides, and the test and the interval (excluding 0.5) agree; samples that
        never overlap have no interval, only the test."""
        if min(self.a_n, self.b_n) < SMALL_SAMPLE_FINISHED or self.p_value is None:
            return False
        if self.ci is None:
            return self.p_value < 0.05
        from analysis.cancellation import is_clear_difference  # statsmodels: not on the import command's path

        return is_clear_difference(self.p_value, self.ci[0] - 0.5, self.ci[1] - 0.5)


def first_money_sentence(c: DaysComparison) -> str | None:
    """What ``compare_days`` found, in a sentence (None without a test, or with fewer than
    ``SMALL_SAMPLE_FINISHED`` cases a side: the medians' own note says those are too few)."""
    from analysis.cancellation import p_text

    if c.p_value is None or min(c.a_n, c.b_n) < SMALL_SAMPLE_FINISHED:
        return None
    share = lambda v: f"{v * 100:.0f} %"  # noqa: E731
    verdict = (f"calls that a clear difference ({p_text(c.p_value)})" if c.clear_difference
               else f"cannot tell it from chance ({p_text(c.p_value)})")
    interval = f"95 % interval {share(c.ci[0])} to {share(c.ci[1])}; " if c.ci else ""
    return (f"Pair any milestone contract with any single-payment one: the milestone contract's first money came "
            f"first in {share(c.prob_a_sooner)} of pairs, counting same-day pairs as half ({interval}half would mean "
            f"neither is sooner). The {c.test_method} {verdict}.")


@uses_prepared
def compare_days(con: duckdb.DuckDBPyConnection, filters: Filters, measure: str = "start_to_first_payment",
                 a: str = "milestones", b: str = "single") -> DaysComparison:
    """``measure``'s days of structure ``a`` against ``b`` (``DaysComparison``): counted per day in SQL,
    tested on the counts. No test (None) while a side has fewer than two cases or nothing varies."""
    import numpy as np
    from statsmodels.stats.nonparametric import rank_compare_2indep

    if measure in _CONTRACT_MEASURES:  # the days ``timing_summary`` reads too: worked out once per block
        base, params = contracts_sql(filters)
        measured = (f"SELECT c.structure, t.d FROM {contract_days_table()} t JOIN ({base}) c ON c.cid = t.cid "
                    f"WHERE t.m = {list(MEASURES).index(measure)}")
    else:
        measured, params = measured_sql(filters, (measure,))
    counts = con.execute(
        f"""SELECT structure, d, count(*) FROM ({measured}) WHERE d IS NOT NULL AND structure IN (?, ?)
            GROUP BY ALL ORDER BY ALL""", params + [a, b]).fetchall()
    days = {s: np.repeat([d for t, d, _ in counts if t == s], [n for t, _, n in counts if t == s]).astype(float)
            for s in (a, b)}
    x, y = days[a], days[b]
    untested = DaysComparison(measure, a, b, len(x), len(y), None, None, None)
    if min(len(x), len(y)) < 2 or np.ptp(np.concatenate([x, y])) == 0:
        return untested
    if x.max() < y.min() or y.max() < x.min():
        # Samples that do not overlap: the Brunner–Munzel variance is 0 (no p-value, no interval), while this is
        # the clearest answer there is. Mann–Whitney's U test (scipy) gives the p-value; the share is 1 or 0.
        from scipy.stats import mannwhitneyu

        p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
        return DaysComparison(measure, a, b, len(x), len(y), float(x.max() < y.min()), None, p,
                              "Mann–Whitney U test (two-sided; the two never overlap)")
    with np.errstate(divide="ignore", invalid="ignore"):
        result = rank_compare_2indep(x, y)
        low, high = result.conf_int()
    later, p = float(result.prob1), float(result.pvalue)  # prob1: P(x > y) + ½ P(x = y)
    if not all(math.isfinite(v) for v in (later, p, low, high)):
        return untested
    return DaysComparison(measure, a, b, len(x), len(y), 1 - later, (max(0.0, 1 - float(high)), min(1.0, 1 - float(low))), p)


def withdrawable_sql(platform: str, kind: str, paid_date: str, submitted_date: str) -> str:
    """DuckDB expression: the date paid money can be withdrawn, given the platform's holds.

    Upwork fixed-price money and bonuses: released + 5-day security hold; Upwork hourly
    invoices: the Wednesday 10 days after the week (which ends on the submission date) and
    not before payment; Fiverr: 14 days' clearance; Freelancer.com and direct clients: at once.
    Arguments are trusted column expressions.
    """
    return f"""CASE
        WHEN {paid_date} IS NULL THEN NULL
        WHEN lower({platform}) = 'upwork' AND {kind} IN ('hourly', 'invoice') THEN
            greatest({paid_date}, coalesce({submitted_date}, {paid_date}) + {int(UPWORK_HOURLY_AVAILABLE_AFTER_WEEK_END_DAYS)})
        WHEN lower({platform}) = 'upwork' THEN {paid_date} + {int(UPWORK_SECURITY_HOLD_DAYS)}
        WHEN lower({platform}) = 'fiverr' THEN {paid_date} + {int(FIVERR_CLEARANCE_DAYS)}
        ELSE {paid_date} END"""


@uses_prepared
def timing_summary(con: duckdb.DuckDBPyConnection, filters: Filters,
                   measures: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Distribution of each timing measure (``MEASURES``, or the ones named) per structure, in days.

    Columns: measure, structure, n, median, p25, p75, mean. Every (measure, structure) pair
    asked for is present; ``n`` = 0 with NaN statistics where nothing could be measured.
    """
    import pandas as pd
    measures = tuple(measures or MEASURES)
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise ValueError(f"unknown timing measure {unknown[0]!r}")
    codes = {m: i for i, m in enumerate(MEASURES)}
    per_contract = [m for m in measures if m in _CONTRACT_MEASURES]
    per_row = tuple(m for m in measures if m not in _CONTRACT_MEASURES)
    parts, params = [], []
    if per_contract:
        base, base_params = contracts_sql(filters)
        names = " ".join(f"WHEN {codes[m]} THEN '{m}'" for m in per_contract)
        parts.append(f"""SELECT CASE t.m {names} END AS measure, c.structure, t.d::DOUBLE AS d
                         FROM {contract_days_table()} t JOIN ({base}) c ON c.cid = t.cid
                         WHERE t.m IN ({', '.join(str(codes[m]) for m in per_contract)})""")
        params += base_params
    if per_row:
        # The milestone measures in one pass over the milestones (one row per measure by unnest).
        ms, ms_params = milestones_sql(filters)
        values = _milestone_measures()
        names = ", ".join(f"'{m}'" for m in per_row)
        days = ", ".join(f"(CASE WHEN {values[m][1]} THEN {values[m][0]} END)::DOUBLE" for m in per_row)
        parts.append(f"SELECT structure, unnest([{names}]) AS measure, unnest([{days}]) AS d FROM ({ms})")
        params += ms_params
    measured = " UNION ALL BY NAME ".join(f"({p})" for p in parts)
    # Exact quantiles (as quantile_cont) from a histogram of the values: measures are whole days,
    # so memory is per distinct day, not per row (quantile_cont ran out of 2 GB at 10M contracts).
    def quantile(p: float) -> str:
        lo, hi = f"floor((n - 1) * {p})", f"ceil((n - 1) * {p})"
        v_lo, v_hi = f"min(d) FILTER (WHERE upto > {lo})", f"min(d) FILTER (WHERE upto > {hi})"
        return f"{v_lo} + ((any_value(n) - 1) * {p} - any_value({lo})) * ({v_hi} - {v_lo})"

    got = con.execute(
        f"""WITH h AS (SELECT measure, structure, d, count(*) AS c FROM ({measured}) WHERE d IS NOT NULL GROUP BY ALL),
            cum AS (SELECT *, sum(c) OVER (PARTITION BY measure, structure ORDER BY d ROWS UNBOUNDED PRECEDING) AS upto,
                           sum(c) OVER (PARTITION BY measure, structure) AS n FROM h)
            SELECT measure, structure, any_value(n)::BIGINT AS n, {quantile(0.5)} AS median,
                   {quantile(0.25)} AS p25, {quantile(0.75)} AS p75, sum(d * c) / any_value(n) AS mean
            FROM cum GROUP BY measure, structure""",
        params,
    ).df()
    grid = pd.MultiIndex.from_product([list(measures), list(STRUCTURES)], names=["measure", "structure"]).to_frame(index=False)
    out = grid.merge(got, on=["measure", "structure"], how="left")
    out["n"] = out["n"].fillna(0).astype("int64")
    return out


#: Measures that belong to a contract as a whole, or to the sequence of its payments: taken from
#: ``contract_days_table`` rather than recomputed per call.
_CONTRACT_MEASURES = ("start_to_first_payment", "start_to_first_withdrawable", "gap_between_payments")


@uses_prepared
def estimated_starts(con: duckdb.DuckDBPyConnection, filters: Filters) -> int:
    """Contracts with a payment whose start only a transaction history's first payment gives
    (``start_estimated``): left out of the days counted from the start, which they would put at 0."""
    pay, params = payments_sql(filters)
    income = ", ".join(f"'{k}'" for k in INCOME_KINDS)
    return int(con.execute(
        f"SELECT count(DISTINCT cid) FROM ({pay}) WHERE start_estimated AND kind IN ({income}) AND gross > 0 "
        "AND paid_date IS NOT NULL", params).fetchone()[0])


@uses_prepared
def paid_before_start(con: duckdb.DuckDBPyConnection, filters: Filters) -> int:
    """Contracts whose first payment is dated before their start: kept as imported, but their
    days from the start are negative, which a reader should check rather than take as a figure."""
    base, params = contracts_sql(filters)
    code = list(MEASURES).index("start_to_first_payment")
    return int(con.execute(
        f"SELECT count(*) FROM {contract_days_table()} t JOIN ({base}) c ON c.cid = t.cid WHERE t.m = {code} AND t.d < 0",
        params).fetchone()[0])


def paid_before_start_note(n: int) -> str:
    """What a reader is told about ``paid_before_start`` contracts."""
    return f"{counted(n, 'contract')} a payment dated before the start date (negative days from the start): check those dates"


def estimated_starts_note(n: int) -> str:
    """What a reader is told about ``estimated_starts`` contracts (report, HTML report, dashboard)."""
    return (f"days from the start leave out {plural(n, 'contract')} with payments from a platform export, which "
            "does not say when a contract started (its first payment stands in)")


def few_cases_note(medians: int) -> str:
    """What a reader is told when ``medians`` timing medians rest on fewer than ``SMALL_SAMPLE_FINISHED`` contracts
    or payments (report, dashboard): a median of 2 cases is an example, not a pattern."""
    one = medians == 1
    return (f"{medians} of these medians {'rests' if one else 'rest'} on fewer than {SMALL_SAMPLE_FINISHED} contracts "
            f"or payments (see n): read {'it' if one else 'them'} as {'an example' if one else 'examples'}, not as a pattern")


def contract_days_table() -> str:
    """The first-payment and gap intervals of the workspace as (cid, m, d): ``m`` the index of the
    measure in ``MEASURES``, ``d`` whole days (inside ``prepared``; NULL intervals left out).
    Both come from one pass over the payments.

    They need a group or a window over every payment of a contract; a contract's own payments
    decide them, so the filters only pick contracts: computed once per ``prepared`` block, the
    table serves every ``timing_summary`` call of the block.
    """
    def build() -> str:
        sql, _ = _measured_sql(Filters(), _CONTRACT_MEASURES, "cid", "m")
        return f"SELECT cid, m::UTINYINT AS m, d::INTEGER AS d FROM ({sql}) WHERE d IS NOT NULL"

    return derived_table("timing_contract", build)


def measured_sql(filters: Filters, measures: tuple[str, ...]) -> tuple[str, list]:
    """One row per measured interval (columns measure, structure, d in days) and its parameters:
    the one definition of every ``MEASURES`` entry, shared by the summary and the distribution."""
    return _measured_sql(filters, measures, "structure", "measure")


def _milestone_measures() -> dict[str, tuple[str, str]]:
    """Measures of each milestone or invoice: name -> (days expression, condition), over ``milestones_sql`` columns."""
    paid_submitted = "paid_date IS NOT NULL AND submitted_date IS NOT NULL"
    withdrawable = withdrawable_sql("platform", "kind", "paid_date", "submitted_date")
    return {
        "submission_to_payment": ("paid_date - submitted_date", paid_submitted),
        "funded_to_paid": ("paid_date - funded_date", "paid_date IS NOT NULL AND funded_date IS NOT NULL"),
        "submission_to_withdrawable": (f"{withdrawable} - submitted_date", paid_submitted),
    }


def _measured_sql(filters: Filters, measures: tuple[str, ...], carry: str, label: str) -> tuple[str, list]:
    """``measured_sql`` with the contract column ``carry`` (structure or cid) on each row and the
    measure as its name (``label='measure'``) or its index in ``MEASURES`` (``label='m'``)."""
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise ValueError(f"unknown timing measure {unknown[0]!r}")
    pay, pay_params = payments_sql(filters)
    ms, ms_params = milestones_sql(filters)
    income = ", ".join(f"'{k}'" for k in INCOME_KINDS)
    withdrawable_p = withdrawable_sql("platform", "kind", "paid_date", "submitted_date")
    values = {  # measure -> (days expression, relation and condition)
        "start_to_first_payment": ("first_days", "firsts"),
        "start_to_first_withdrawable": ("first_withdrawable_days", "firsts"),
        **{m: (expr, f"m WHERE {condition}") for m, (expr, condition) in _milestone_measures().items()},
        "gap_between_payments": ("gap", "gaps WHERE gap IS NOT NULL"),
    }
    codes = {m: i for i, m in enumerate(MEASURES)}
    name = (lambda m: f"'{m}'") if label == "measure" else (lambda m: str(codes[m]))
    parts = {m: f"SELECT {name(m)} AS {label}, {carry}, ({expr})::DOUBLE AS d FROM {rel}" for m, (expr, rel) in values.items()}
    # Gaps: consecutive payment dates of one contract (ties in the date give a gap of 0 in any order).
    sql = f"""
        WITH p AS ({pay}),
        m AS ({ms}),
        income AS (
            SELECT * FROM p WHERE kind IN ({income}) AND gross > 0 AND paid_date IS NOT NULL),
        firsts AS (  -- from the start: not for a start a transaction history estimated from the first payment
            SELECT cid, any_value(structure) AS structure, min(paid_date) - any_value(start_date) AS first_days,
                   min({withdrawable_p}) - any_value(start_date) AS first_withdrawable_days
            FROM income WHERE NOT start_estimated GROUP BY cid),
        gaps AS (
            SELECT cid, structure, paid_date - lag(paid_date) OVER (PARTITION BY cid ORDER BY paid_date) AS gap
            FROM income WHERE kind IN ('milestone', 'hourly')),
        measured AS ({' UNION ALL '.join(parts[m] for m in measures)})
        SELECT {label}, {carry}, d FROM measured"""
    # payments_sql and milestones_sql both use contracts_sql: the same parameters, in order.
    return sql, pay_params + ms_params


@uses_prepared
def distribution(con: duckdb.DuckDBPyConnection, filters: Filters, measure: str, *,
                 bin_days: int = 1, max_days: int = 60) -> pd.DataFrame:
    """How many intervals of one ``measure`` fell in each ``bin_days``-wide bin, per structure.

    Bins start at 0 (negative intervals, from dates out of order, count in the first); intervals
    of ``max_days`` or more share the last bin (``open_ended``), so one very late payment does
    not stretch a chart. Columns: structure, days (bin start), open_ended, n, share (of the
    structure's intervals).
    """
    if bin_days < 1 or max_days < bin_days:
        raise ValueError("bin_days must be at least 1 and at most max_days")
    measured, params = measured_sql(filters, (measure,))
    width = int(bin_days)
    top = (int(max_days) // width) * width
    return con.execute(
        f"""SELECT structure, days, days >= {top} AS open_ended, n,
                   (n / sum(n) OVER (PARTITION BY structure))::DOUBLE AS share
            FROM (SELECT structure, least(greatest(floor(d / {width}) * {width}, 0), {top})::INTEGER AS days,
                         count(*) AS n
                  FROM ({measured}) WHERE d IS NOT NULL GROUP BY ALL)
            ORDER BY structure, days""",
        params,
    ).df()


@uses_prepared
def cash_curve(con: duckdb.DuckDBPyConnection, filters: Filters, *, step: float = 0.1,
               max_fraction: float = 2.0) -> pd.DataFrame:
    """Average share of the agreed value received by each point of the planned duration.

    Over finished fixed-price contracts with a positive budget and a planned duration whose
    payments toward the budget all have a date: for each grid point x (0, ``step``, …
    ``max_fraction`` of the planned duration) the mean over contracts of (payments toward the
    budget dated up to x) / budget. Refunds count negatively, bonuses not at all. A contract paid
    on an unknown date (a contract-level ``paid_total``) is left out, not counted as never paid
    (``cash_curve_left_out`` counts them).
    Columns: structure, fraction_elapsed, share_received, contracts.
    """
    import numpy as np
    import pandas as pd
    pay, pay_params = payments_sql(filters)
    kinds = ", ".join(f"'{k}'" for k in TOWARD_BUDGET_KINDS)
    k_max = int(round(max_fraction / step))
    n_by = dict(_cash_curve_contracts(con, filters)[["structure", "dated"]].itertuples(index=False))
    undated = f"SELECT DISTINCT cid FROM ({pay}) WHERE paid_date IS NULL AND kind IN ({kinds})"
    shares = con.execute(
        f"""WITH p AS ({pay})
            SELECT structure, greatest(0, ceil(round(datediff('day', start_date, paid_date) / planned_days / ?, 9)))::INTEGER AS k,
                   sum(gross / budget)::DOUBLE AS share
            FROM p WHERE contract_status IN ('completed', 'cancelled', 'disputed') AND structure IN ('milestones', 'single')
              AND budget > 0 AND planned_days IS NOT NULL AND paid_date IS NOT NULL AND kind IN ({kinds})
              AND cid NOT IN ({undated})
            GROUP BY ALL""",
        pay_params + [step] + pay_params,
    ).df()
    frames = []
    for structure in ("milestones", "single"):
        n = n_by.get(structure, 0)
        if n == 0:
            continue
        part = shares[(shares["structure"] == structure) & (shares["k"] <= k_max)]
        per_k = np.zeros(k_max + 1)
        np.add.at(per_k, part["k"].to_numpy(dtype=int), part["share"].to_numpy(dtype=float))
        frames.append(pd.DataFrame({
            "structure": structure, "fraction_elapsed": np.round(np.arange(k_max + 1) * step, 6),
            "share_received": np.cumsum(per_k) / n, "contracts": n,
        }))
    columns = ["structure", "fraction_elapsed", "share_received", "contracts"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _cash_curve_contracts(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """The contracts ``cash_curve`` could draw, per structure: ``dated`` (every payment toward the budget
    dated: drawn) and ``undated`` (paid on an unknown date: left out)."""
    pay, pay_params = payments_sql(filters)
    base, params = contracts_sql(filters)
    kinds = ", ".join(f"'{k}'" for k in TOWARD_BUDGET_KINDS)
    undated = f"SELECT DISTINCT cid FROM ({pay}) WHERE paid_date IS NULL AND kind IN ({kinds})"
    return con.execute(
        f"""SELECT structure, count(*) FILTER (WHERE cid NOT IN ({undated})) AS dated,
                   count(*) FILTER (WHERE cid IN ({undated})) AS undated
            FROM ({base}) WHERE finished AND structure IN ('milestones', 'single') AND budget > 0
              AND planned_days IS NOT NULL
            GROUP BY structure ORDER BY structure""", pay_params + pay_params + params).df()


@uses_prepared
def cash_curve_left_out(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Contracts the cash curve leaves out because they were paid on an unknown date (a
    contract-level ``paid_total``), per structure: columns structure, contracts (only those with some)."""
    counts = _cash_curve_contracts(con, filters)
    return counts[counts["undated"] > 0].rename(columns={"undated": "contracts"})[["structure", "contracts"]].reset_index(drop=True)


@uses_prepared
def withdrawable_position(con: duckdb.DuckDBPyConnection, filters: Filters, today: dt.date | None = None) -> pd.DataFrame:
    """Per currency, as it stood on ``today``: money paid by then, already withdrawable, still on hold,
    next release date.

    Only payments paid on or before ``today`` count: with a past as-of date, money paid later did not
    exist yet (it is neither withdrawable nor on hold). Columns: currency, paid, withdrawable,
    on_hold, next_release (the earliest withdrawable date after ``today``, or NaT).
    """
    today = today or dt.date.today()
    pay, params = payments_sql(filters)
    w = withdrawable_sql("platform", "kind", "paid_date", "submitted_date")
    return con.execute(
        f"""WITH p AS ({pay}),
            w AS (SELECT currency, gross - fee AS net, {w} AS withdrawable_date
                  FROM p WHERE gross > 0 AND paid_date <= ?)
            SELECT currency, sum(net)::DOUBLE AS paid,
                   coalesce(sum(net) FILTER (WHERE withdrawable_date <= ?), 0)::DOUBLE AS withdrawable,
                   coalesce(sum(net) FILTER (WHERE withdrawable_date > ?), 0)::DOUBLE AS on_hold,
                   min(withdrawable_date) FILTER (WHERE withdrawable_date > ?) AS next_release
            FROM w GROUP BY currency ORDER BY currency""",
        params + [today, today, today, today],
    ).df()


@uses_prepared
def ageing(con: duckdb.DuckDBPyConnection, filters: Filters, today: dt.date | None = None) -> pd.DataFrame:
    """Submitted but unpaid work by age since submission (0–30, 31–60, 61–90, over 90 days), as it
    stood on ``today``.

    Milestones and hourly invoices submitted on or before ``today`` and not paid by then, aged at
    ``today``: those paid after it (still waiting on that day, whatever their status now), and those
    with no payment date and a status other than paid, cancelled or refunded (when a cancellation
    happened is not known, so cancelled work never counts). Work submitted after ``today`` did not
    exist yet. Every bucket is listed for every currency that has any. Columns: currency, bucket,
    bucket_order, items, amount.
    """
    import pandas as pd
    today = today or dt.date.today()
    ms, params = milestones_sql(filters)
    cases = " ".join(
        f"WHEN age <= {hi} THEN {i}" if hi is not None else f"ELSE {i}" for i, (_, _, hi) in enumerate(AGEING_BUCKETS)
    )
    got = con.execute(
        f"""WITH m AS ({ms})
            SELECT currency, CASE {cases} END AS bucket_order, count(*) AS items, sum(amount)::DOUBLE AS amount
            FROM (SELECT *, datediff('day', submitted_date, ?::DATE) AS age FROM m
                  WHERE submitted_date <= ?::DATE
                    AND (paid_date > ?::DATE
                         OR (paid_date IS NULL AND coalesce(status, '') NOT IN ('paid', 'cancelled', 'refunded'))))
            GROUP BY ALL""",
        params + [today, today, today],
    ).df()
    currencies = sorted(got["currency"].unique()) if len(got) else []
    grid = pd.DataFrame([(c, name, i) for c in currencies for i, (name, _, _) in enumerate(AGEING_BUCKETS)],
                        columns=["currency", "bucket", "bucket_order"])
    if grid.empty:
        return pd.DataFrame(columns=["currency", "bucket", "bucket_order", "items", "amount"])
    out = grid.merge(got, on=["currency", "bucket_order"], how="left")
    out["items"] = out["items"].fillna(0).astype("int64")
    out["amount"] = out["amount"].fillna(0.0)
    return out
