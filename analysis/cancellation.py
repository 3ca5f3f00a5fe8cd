"""Cancellation risk: how often contracts of each payment structure end cancelled, and when.

Definitions follow SPEC.md: a contract is *finished* when completed, cancelled or disputed;
*cancelled* counts cancelled and disputed (disputed is also reported on its own); the rate is
cancelled / finished with a 95 % Wilson interval. Contracts whose status is unknown (NULL,
e.g. imported from a transaction history and not completed by the user yet) are left out
and counted as ``status_unknown``. Counting happens in DuckDB; statsmodels supplies the
intervals, tests, survival curves and the regression (scipy the exact test for small counts).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import asdict, dataclass, field, replace

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    test_proportions_2indep,
)

from analysis.filters import SMALL_SAMPLE_FINISHED, Filters, contracts_sql, uses_prepared
from analysis.wording import STRUCTURE_WORDS, joined, plural

STRUCTURES = ("milestones", "single", "hourly")
#: Dimensions of ``breakdowns`` in the order a report shows them.
BREAKDOWN_DIMENSIONS = ("budget_band", "duration_band", "client_history", "category", "platform", "start_year")
BREAKDOWN_LABELS = {
    "budget_band": "Budget", "duration_band": "Planned duration", "client_history": "Client",
    "category": "Category", "platform": "Platform", "start_year": "Start year",
}
#: The regression is fitted on at most this many contracts (a seeded random sample beyond).
LOGIT_MAX_ROWS = 100_000
#: What each covariate of the adjusted comparison stands for, in words.
COVARIATE_NAMES = {"log_budget": "budget", "log_planned_days": "planned duration", "repeat_client": "client history"}
#: Each term of the adjusted comparison's model, as its odds ratio reads (budget and duration enter as logarithms).
TERM_WORDS = {
    "const": "baseline: a single payment, new client, budget and duration of 1",
    "milestones": "milestones rather than a single payment",
    "log_budget": "budget, per 2.7× larger",
    "log_planned_days": "planned duration, per 2.7× longer",
    "repeat_client": "a repeat client rather than a new one",
}
_Z95 = 1.959963984540054


def p_number(p_value: float) -> str:
    """``< 0.001``, ``0.004``, ``0.051``, ``0.31``: a p-value's digits, as every page and report writes them.

    Three decimals below 0.1, so no value is rounded onto the 0.05 the conclusions use
    (0.051 is not "0.05" beside "no clear difference", 0.0496 not "0.05" beside "less often")."""
    if p_value < 0.001:
        return "< 0.001"
    return f"{p_value:.3f}" if p_value < 0.1 else f"{p_value:.2f}"


def p_text(p_value: float) -> str:
    """``p < 0.001``, ``p = 0.004``, ``p = 0.051``, ``p = 0.31``: how a p-value is written for people."""
    number = p_number(p_value)
    return f"p {number}" if number.startswith("<") else f"p = {number}"


def is_clear_difference(p_value: float | None, ci_low: float | None, ci_high: float | None) -> bool:
    """A difference is called one only when the test (p < 0.05) and the 95 % interval (excluding 0) agree.

    The test and the interval are different methods; near the edge one can say "difference" while
    the other says "maybe none", and a reader must never see both verdicts for the same numbers."""
    if p_value is None or ci_low is None or ci_high is None:
        return False
    if not all(math.isfinite(x) for x in (p_value, ci_low, ci_high)):
        return False
    return p_value < 0.05 and (ci_high < 0 or ci_low > 0)


def wilson_interval(cancelled, finished) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson interval per element; NaN where nothing is finished."""
    count = np.asarray(cancelled, dtype=float)
    nobs = np.asarray(finished, dtype=float)
    low = np.full(count.shape, np.nan)
    high = np.full(count.shape, np.nan)
    ok = nobs > 0
    if ok.any():
        lo, hi = proportion_confint(count[ok], nobs[ok], alpha=0.05, method="wilson")
        low[ok], high[ok] = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
    return low, high


SCORE_TEST = "two-sided score test (pooled z; Pearson chi-square without continuity correction)"
FISHER_TEST = "two-sided Fisher exact test (an expected count is below 5, too few for the score test)"


def _expected_count_below_5(a_cancelled: int, a_finished: int, b_cancelled: int, b_finished: int) -> bool:
    """Whether the smallest expected cell of the 2 × 2 table (groups × cancelled or not) is below 5."""
    total = a_finished + b_finished
    cancelled = a_cancelled + b_cancelled
    return min(a_finished, b_finished) * min(cancelled, total - cancelled) / total < 5


@dataclass(frozen=True)
class RateComparison:
    """Cancellation rate of group ``a`` minus that of group ``b`` (SPEC: milestones − single)."""

    a: str
    b: str
    a_cancelled: int
    a_finished: int
    b_cancelled: int
    b_finished: int
    rate_difference: float | None
    difference_ci: tuple[float, float] | None
    p_value: float | None
    small_sample: bool
    message: str
    interval_method: str = "Newcombe hybrid score (Wilson) interval, 95 %"
    test_method: str = SCORE_TEST

    @property
    def clear_difference(self) -> bool:
        """Enough contracts on both sides, and the test and the interval both say the rates differ."""
        low, high = self.difference_ci or (None, None)
        return not self.small_sample and is_clear_difference(self.p_value, low, high)

    def to_json(self) -> dict:
        out = asdict(self)
        out["clear_difference"] = self.clear_difference
        out["difference_ci"] = list(self.difference_ci) if self.difference_ci else None
        return out


def compare_rates(a_cancelled: int, a_finished: int, b_cancelled: int, b_finished: int,
                  a: str = "milestones", b: str = "single") -> RateComparison:
    """Difference of two cancellation rates with its Newcombe interval and a two-sided test."""
    a_cancelled, a_finished, b_cancelled, b_finished = map(int, (a_cancelled, a_finished, b_cancelled, b_finished))
    small = min(a_finished, b_finished) < SMALL_SAMPLE_FINISHED
    if a_finished == 0 or b_finished == 0:
        missing = a if a_finished == 0 else b
        return RateComparison(a, b, a_cancelled, a_finished, b_cancelled, b_finished, None, None, None, True,
                              f"no finished {STRUCTURE_WORDS.get(missing, missing)} contracts: nothing to compare")
    p1, p2 = a_cancelled / a_finished, b_cancelled / b_finished
    low, high = confint_proportions_2indep(a_cancelled, a_finished, b_cancelled, b_finished,
                                           method="newcomb", compare="diff", alpha=0.05)
    test_method = SCORE_TEST
    if _expected_count_below_5(a_cancelled, a_finished, b_cancelled, b_finished):
        # The score test's chi-square approximation fails at small expected counts (1 of 30 against
        # 6 of 30: score p = 0.044 while the interval includes 0 and the exact p is 0.10).
        test_method = FISHER_TEST
        table = [[a_cancelled, a_finished - a_cancelled], [b_cancelled, b_finished - b_cancelled]]
        p_value = float(fisher_exact(table, alternative="two-sided").pvalue)
    elif p1 == p2 and p1 in (0.0, 1.0):
        # Both rates 0 % (or both 100 %): the test statistic is 0/0; the data show no difference.
        p_value = 1.0
    else:
        with np.errstate(all="ignore"):
            result = test_proportions_2indep(a_cancelled, a_finished, b_cancelled, b_finished,
                                             method="score", correction=False, alternative="two-sided")
        p_value = float(result.pvalue)
    p_value = min(p_value, 1.0)
    diff = p1 - p2
    name_a, name_b = STRUCTURE_WORDS.get(a, a), STRUCTURE_WORDS.get(b, b)
    interval = f"95 % CI {low * 100:+.1f} to {high * 100:+.1f}"
    if small:
        message = (f"too few finished contracts to conclude anything ({a_cancelled} of {a_finished} {name_a} "
                   f"vs {b_cancelled} of {b_finished} {name_b} contracts cancelled; {SMALL_SAMPLE_FINISHED} per group needed)")
    elif is_clear_difference(p_value, low, high):
        message = (f"{name_a} contracts were cancelled {'less' if diff < 0 else 'more'} often than {name_b} ones "
                   f"({diff * 100:+.1f} points, {interval}, {p_text(p_value)})")
    elif p_value < 0.05:
        message = (f"no clear difference between {name_a} and {name_b} contracts ({diff * 100:+.1f} points; "
                   f"{p_text(p_value)}, but the {interval} includes 0, no difference)")
    else:
        message = f"no clear difference between {name_a} and {name_b} contracts ({p_text(p_value)})"
    return RateComparison(a, b, a_cancelled, a_finished, b_cancelled, b_finished, float(diff),
                          (float(low), float(high)), p_value, small, message, test_method=test_method)


def _with_rates(df: pd.DataFrame) -> pd.DataFrame:
    finished = df["finished"].to_numpy(dtype=float)
    cancelled = df["cancelled"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        df["cancellation_rate"] = np.where(finished > 0, cancelled / np.where(finished > 0, finished, 1), np.nan)
    df["ci_low"], df["ci_high"] = wilson_interval(cancelled, finished)
    df["small_sample"] = finished < SMALL_SAMPLE_FINISHED
    return df


@uses_prepared
def rates_by_structure(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """One row per structure (always all three, empty ones with zeros): counts, rate, Wilson CI.

    Columns: structure, contracts, completed, cancelled_only, disputed, active, status_unknown,
    finished, cancelled (= cancelled_only + disputed), cancellation_rate, ci_low, ci_high,
    small_sample.
    """
    base, params = contracts_sql(filters)
    counts = con.execute(
        f"""SELECT structure, count(*) AS contracts,
                   count(*) FILTER (WHERE status = 'completed') AS completed,
                   count(*) FILTER (WHERE status = 'cancelled') AS cancelled_only,
                   count(*) FILTER (WHERE status = 'disputed') AS disputed,
                   count(*) FILTER (WHERE status = 'active') AS active,
                   count(*) FILTER (WHERE status IS NULL) AS status_unknown
            FROM ({base}) GROUP BY structure""",
        params,
    ).df()
    frame = pd.DataFrame({"structure": list(STRUCTURES)}).merge(counts, on="structure", how="left")
    number_cols = ["contracts", "completed", "cancelled_only", "disputed", "active", "status_unknown"]
    frame[number_cols] = frame[number_cols].fillna(0).astype("int64")
    frame["finished"] = frame["completed"] + frame["cancelled_only"] + frame["disputed"]
    frame["cancelled"] = frame["cancelled_only"] + frame["disputed"]
    return _with_rates(frame)


def compare_structures(rates: pd.DataFrame, a: str = "milestones", b: str = "single") -> RateComparison:
    """``compare_rates`` for two rows of a ``rates_by_structure``-like frame."""
    row = rates.set_index("structure")
    get = lambda s, col: int(row.at[s, col]) if s in row.index else 0  # noqa: E731
    return compare_rates(get(a, "cancelled"), get(a, "finished"), get(b, "cancelled"), get(b, "finished"), a, b)


def fixed_price_contracts(rates: pd.DataFrame) -> int:
    """How many milestone and single-payment contracts a ``rates_by_structure`` frame holds, finished or not:
    0 means an all-hourly history, with nothing for the comparison to be too few of."""
    return int(rates.loc[rates["structure"] != "hourly", "contracts"].sum())


@uses_prepared
def breakdowns(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Cancellation by structure within each group of each dimension (one scan, grouping sets).

    Dimensions: budget band, planned duration band, new vs repeat client, category, platform,
    start year (``BREAKDOWN_DIMENSIONS``). Columns: dimension, group, group_order, structure,
    finished, cancelled, cancellation_rate, ci_low, ci_high, small_sample. Budget bands are
    in the contract's currency, prefixed with it when the filters allow several currencies.
    """
    base, params = contracts_sql(filters, client_history=True)
    budget_label = "budget_band" if filters.single_currency else "currency || ' ' || budget_band"
    budget_order = "budget_band_order" if filters.single_currency else "currency || lpad(budget_band_order::VARCHAR, 3, '0')"
    sets = {
        "budget_band": (budget_label, budget_order),
        "duration_band": ("duration_band", "duration_band_order::VARCHAR"),
        "client_history": (
            "CASE WHEN prior_client_contracts IS NULL THEN 'unknown client' "
            "WHEN prior_client_contracts = 0 THEN 'new client' ELSE 'repeat client' END",
            "CASE WHEN prior_client_contracts IS NULL THEN '2' WHEN prior_client_contracts = 0 THEN '0' ELSE '1' END",
        ),
        "category": ("coalesce(category, '(none)')", "coalesce(category, '~')"),
        "platform": ("coalesce(platform, '(none)')", "coalesce(platform, '~')"),
        "start_year": ("coalesce(start_year::VARCHAR, 'unknown')", "coalesce(start_year::VARCHAR, '~')"),
    }
    select = ", ".join(f"{label} AS g_{name}, ({order})::VARCHAR AS o_{name}" for name, (label, order) in sets.items())
    grouping = ", ".join(f"(structure, g_{n}, o_{n})" for n in sets)
    gid = ", ".join(f"g_{n}" for n in sets)
    cols = ", ".join(f"g_{n}, o_{n}" for n in sets)
    raw = con.execute(
        f"""WITH f AS (SELECT structure, cancelled, {select} FROM ({base}) WHERE finished)
            SELECT GROUPING({gid}) AS gid, structure, {cols}, count(*) AS finished, count(*) FILTER (WHERE cancelled) AS cancelled_n
            FROM f GROUP BY GROUPING SETS ({grouping})""",
        params,
    ).df()
    frames = []
    n = len(sets)
    for i, name in enumerate(sets):
        # GROUPING(...) has a 0 bit for the grouped column, 1 for the others; bit order = argument order.
        mask = (1 << n) - 1 - (1 << (n - 1 - i))
        part = raw[raw["gid"] == mask]
        frames.append(pd.DataFrame({
            "dimension": name, "group": part[f"g_{name}"].astype(str), "group_order": part[f"o_{name}"].astype(str),
            "structure": part["structure"], "finished": part["finished"].astype("int64"),
            "cancelled": part["cancelled_n"].astype("int64"),
        }))
    columns = ["dimension", "group", "group_order", "structure", "finished", "cancelled"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    out = out[columns]
    out["_d"] = out["dimension"].map({d: i for i, d in enumerate(BREAKDOWN_DIMENSIONS)})
    out = out.sort_values(["_d", "group_order", "group", "structure"]).drop(columns="_d").reset_index(drop=True)
    return _with_rates(out)


def breakdown_comparison(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``breakdowns(con, filters)`` and their ``breakdown_differences``: one query a page can cache."""
    breakdown = breakdowns(con, filters)
    return breakdown, breakdown_differences(breakdown)


def breakdown_differences(breakdown: pd.DataFrame, a: str = "milestones", b: str = "single") -> pd.DataFrame:
    """Per dimension and group: ``a`` rate − ``b`` rate with Newcombe CI and p-value (NaN when a side is empty).

    Comparing many groups, some differ at p < 0.05 by chance alone (1 in 20 where nothing differs), so
    ``p_adjusted`` adjusts the p-values of each dimension's comparable groups (Holm–Šidák,
    statsmodels: the groups are disjoint sets of contracts, so their tests are independent) and a
    group's ``clear_difference`` rests on it."""
    from statsmodels.stats.multitest import multipletests

    rows = []
    for (dimension, group, order), part in breakdown.groupby(["dimension", "group", "group_order"], sort=False):
        by = part.set_index("structure")
        get = lambda s, col: int(by.at[s, col]) if s in by.index else 0  # noqa: E731
        cmp = compare_rates(get(a, "cancelled"), get(a, "finished"), get(b, "cancelled"), get(b, "finished"), a, b)
        rows.append({
            "dimension": dimension, "group": group, "group_order": order,
            f"{a}_cancelled": cmp.a_cancelled, f"{a}_finished": cmp.a_finished,
            f"{b}_cancelled": cmp.b_cancelled, f"{b}_finished": cmp.b_finished,
            "rate_difference": cmp.rate_difference if cmp.rate_difference is not None else np.nan,
            "ci_low": cmp.difference_ci[0] if cmp.difference_ci else np.nan,
            "ci_high": cmp.difference_ci[1] if cmp.difference_ci else np.nan,
            "p_value": cmp.p_value if cmp.p_value is not None else np.nan,
            "small_sample": cmp.small_sample,
        })
    out = pd.DataFrame(rows, columns=["dimension", "group", "group_order", f"{a}_cancelled", f"{a}_finished",
                                      f"{b}_cancelled", f"{b}_finished", "rate_difference", "ci_low", "ci_high",
                                      "p_value", "small_sample"])
    out["p_adjusted"] = np.nan
    tested = ~out["small_sample"].astype(bool) & out["p_value"].notna()
    for _, index in out[tested].groupby("dimension", sort=False).groups.items():
        # (Not method="holm": statsmodels 0.15 runs a full gc.collect() in that branch, 60 ms a call.)
        with np.errstate(divide="ignore"):  # a p-value of 1 is log1p(-1) = -inf inside: adjusted to 1, as it should
            adjusted = multipletests(out.loc[index, "p_value"].to_numpy(float), method="holm-sidak")[1]
        out.loc[index, "p_adjusted"] = adjusted
    out["clear_difference"] = [bool(t) and is_clear_difference(p, lo, hi)
                               for t, p, lo, hi in zip(tested, out["p_adjusted"], out["ci_low"], out["ci_high"])]
    return out


# --- time to cancellation ------------------------------------------------------------------

@dataclass(frozen=True)
class SurvivalData:
    """Event counts per structure and time (aggregated in SQL), and what had to be left out."""

    counts: pd.DataFrame  # structure, time, outcome (0 censored, 1 cancelled, 2 completed), n
    excluded_no_end_date: int
    excluded_no_planned_duration: int
    excluded_status_unknown: int


def _today(today: dt.date | None) -> dt.date:
    return today or dt.date.today()


@uses_prepared
def survival_data(con: duckdb.DuckDBPyConnection, filters: Filters, today: dt.date | None = None,
                  scale: str = "days") -> SurvivalData:
    """Time from start to cancellation (event), completion (censored / competing) or ``today`` (active).

    ``scale='days'`` counts days; ``scale='fraction'`` divides by the planned duration (contracts
    without one are left out and counted). Finished contracts without an end date are left out
    and counted too.
    """
    if scale not in ("days", "fraction"):
        raise ValueError("scale must be 'days' or 'fraction'")
    base, params = contracts_sql(filters)
    return _survival_query(con, base, params, scale, _today(today))


def _survival_query(con, base: str, params: list, scale: str, today: dt.date) -> SurvivalData:
    days = ("CASE WHEN status = 'active' THEN greatest(0, datediff('day', start_date, $today)) "
            "WHEN end_date IS NOT NULL THEN greatest(0, datediff('day', start_date, end_date)) END")
    time_expr = days if scale == "days" else f"round(({days}) / planned_days, 4)"
    # DuckDB cannot mix ? and $n: the filters' ? become $1..$k and ``today`` is $k+1.
    c = f"""SELECT structure, status, planned_days, ({days}) AS days, ({time_expr}) AS t,
                   CASE WHEN status IN ('cancelled', 'disputed') THEN 1 WHEN status = 'completed' THEN 2 ELSE 0 END AS outcome
            FROM ({base})"""
    numbered = _number_placeholders(c).replace("$today", f"${len(params) + 1}")
    frame = con.execute(
        f"""WITH c AS ({numbered})
            SELECT structure, t::DOUBLE AS time, outcome, count(*) AS n FROM c
            WHERE status IS NOT NULL AND t IS NOT NULL GROUP BY ALL ORDER BY structure, time, outcome""",
        params + [today],
    ).df()
    excluded = con.execute(
        f"""WITH c AS ({numbered})
            SELECT count(*) FILTER (WHERE status IS NOT NULL AND days IS NULL),
                   count(*) FILTER (WHERE status IS NOT NULL AND days IS NOT NULL AND t IS NULL),
                   count(*) FILTER (WHERE status IS NULL) FROM c""",
        params + [today],
    ).fetchone()
    frame["n"] = frame["n"].astype("int64")
    frame["outcome"] = frame["outcome"].astype("int64")
    return SurvivalData(frame, int(excluded[0]), int(excluded[1]), int(excluded[2]))


def _number_placeholders(sql: str, marker: str = "?") -> str:
    """Replace each ``?`` with ``$1``, ``$2`` … in order (our SQL has no ``?`` inside literals)."""
    parts = sql.split(marker)
    out = [parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        out.append(f"${i}{part}")
    return "".join(out)


def _expand(counts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = counts["n"].to_numpy()
    return (np.repeat(counts["time"].to_numpy(dtype=float), n), np.repeat(counts["outcome"].to_numpy(), n),
            np.repeat(counts["structure"].to_numpy(), n))


def cumulative_incidence(data: SurvivalData) -> pd.DataFrame:
    """Cumulative incidence of cancellation and of completion per structure (competing risks).

    Aalen–Johansen estimate from statsmodels' ``CumIncidenceRight``; active contracts are
    censored. A completed contract can no longer be cancelled, so — unlike a Kaplan–Meier curve
    that treats completion as censoring — ``1 − cancelled`` is the share never cancelled by that
    time. Columns: structure, time, at_risk (contracts still running just before it), cancelled,
    cancelled_low, cancelled_high (pointwise 95 %, statsmodels' standard error, clipped to 0–1),
    completed.
    """
    from statsmodels.duration.survfunc import CumIncidenceRight

    frames = []
    for structure in STRUCTURES:
        part = data.counts[data.counts["structure"] == structure]
        if part.empty:
            continue
        time, outcome, _ = _expand(part)
        if (outcome > 0).sum() == 0:
            continue
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = CumIncidenceRight(time, outcome.astype(float))
        series = {1: np.zeros(len(ci.times)), 2: np.zeros(len(ci.times))}
        errors = {1: np.zeros(len(ci.times)), 2: np.zeros(len(ci.times))}
        # cinc[k] is the incidence of event type k+1 over the distinct event types present.
        present = sorted(int(v) for v in np.unique(outcome) if v > 0)
        for k, values in enumerate(ci.cinc):
            kind = present[k] if len(present) == len(ci.cinc) else k + 1
            series[kind] = np.asarray(values, dtype=float)
            errors[kind] = np.nan_to_num(np.asarray(ci.cinc_se[k], dtype=float), nan=0.0)
        times = np.asarray(ci.times, dtype=float)
        at_risk = len(time) - np.searchsorted(np.sort(time), times, side="left")
        frames.append(pd.DataFrame({
            "structure": structure, "time": times, "at_risk": at_risk.astype("int64"),
            "cancelled": series[1],
            "cancelled_low": np.clip(series[1] - _Z95 * errors[1], 0.0, 1.0),
            "cancelled_high": np.clip(series[1] + _Z95 * errors[1], 0.0, 1.0),
            "completed": series[2]}))
    columns = ["structure", "time", "at_risk", "cancelled", "cancelled_low", "cancelled_high", "completed"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


@dataclass(frozen=True)
class LogRankTest:
    """Log-rank test of equal time-to-cancellation curves."""

    groups: tuple[str, ...]
    chi2: float | None
    p_value: float | None
    contracts: int
    cancellations: int
    message: str
    #: Whether ``message`` calls the curves different (p < 0.05, enough contracts and cancellations).
    differs: bool = False

    def to_json(self) -> dict:
        return asdict(self)


def logrank_test(data: SurvivalData, groups: tuple[str, ...] = ("milestones", "single")) -> LogRankTest:
    """statsmodels ``survdiff`` over the chosen structures; a plain message when it cannot run."""
    from statsmodels.duration.survfunc import survdiff

    part = data.counts[data.counts["structure"].isin(groups)]
    # The groups as their index in ``groups``: survdiff sorts them (np.unique), and sorting a
    # million integers is a hundred times faster than a million strings; same test.
    part = part.assign(structure=part["structure"].map({g: i for i, g in enumerate(groups)}).astype("int64"))
    time, outcome, group = _expand(part)
    event = (outcome == 1).astype(float)
    present = [groups[i] for i in sorted(set(part["structure"].tolist()))]
    n, events = len(time), int(event.sum())
    if len(present) < len(groups):
        missing = " or ".join(STRUCTURE_WORDS.get(g, g) for g in groups if g not in present)
        # Contracts without a start and an end (or today) date cannot be placed on the time axis: only
        # blame the dates when some contracts were left out for them.
        left_out = data.excluded_no_end_date + data.excluded_no_planned_duration + data.excluded_status_unknown
        return LogRankTest(groups, None, None, n, events, f"no {missing} contracts "
                           + ("with the dates the curves need " if left_out else "") + "to compare")
    if events == 0:
        return LogRankTest(groups, None, None, n, events, "no cancellations: the curves cannot differ")
    try:
        with np.errstate(all="ignore"):
            chi2, p = survdiff(time, event, group)
    except (np.linalg.LinAlgError, ValueError, ZeroDivisionError):
        # No variance to test against: e.g. every contract ended on the same day.
        return LogRankTest(groups, None, None, n, events, "log-rank test not possible: the times of the "
                           "cancellations carry nothing to compare (e.g. every contract ended on the same day)")
    chi2, p = float(chi2), float(p)
    if not math.isfinite(p):
        return LogRankTest(groups, None, None, n, events, "log-rank test not possible with these data")
    names = [STRUCTURE_WORDS.get(g, g) for g in groups]
    # The test compares the cause-specific hazard: the risk, among contracts still running, of being
    # cancelled next — completion censors. It says whether that risk over time differs, not "when".
    message = (f"the risk of cancellation over time (among contracts still running) differs between "
               f"{' and '.join(names)} contracts" if p < 0.05
               else "no clear difference in the risk of cancellation over time")
    finished = part[part["outcome"] > 0].groupby("structure")["n"].sum().reindex(range(len(groups)), fill_value=0)
    if finished.min() < SMALL_SAMPLE_FINISHED:
        counts = ", ".join(f"{int(k):,} {name}" for k, name in zip(finished, names))
        message = (f"too few finished contracts to conclude anything about the risk over time ({counts}; "
                   f"{SMALL_SAMPLE_FINISHED} per group needed)")
    elif events < 10:
        message = f"only {plural(events, 'cancellation')}: too few to conclude anything about the risk over time"
    # bool(): numpy's bool from the comparisons is not JSON (report --json died on small segments).
    differs = bool(p < 0.05 and finished.min() >= SMALL_SAMPLE_FINISHED and events >= 10)
    return LogRankTest(groups, chi2, p, n, events, message, differs)


def beside_rates(test: LogRankTest, rates: RateComparison) -> LogRankTest:
    """``test`` as shown beside the comparison of the same groups' cancellation rates: when that finds
    no firm difference, a log-rank "differs" is worded as a hint, not a finding. On one screen the
    same contracts must not get "no firm evidence" and "differs" (with one event time the log-rank
    test is the rates' Mantel–Haenszel test: p = 0.048 beside an interval reaching 0)."""
    if not test.differs or rates.rate_difference is None or rates.clear_difference:
        return test
    return replace(test, differs=False, message="the risk of cancellation over time may differ, but the comparison "
                   "of the cancellation rates finds no firm difference: treat it as unproven")


# --- adjusted comparison -------------------------------------------------------------------

#: Of the rarer outcome, per fitted term, below which a logistic regression's estimates are
#: unstable (the usual rule of thumb; Peduzzi et al. 1996).
EVENTS_PER_TERM = 10

@dataclass(frozen=True)
class AdjustedComparison:
    """Odds ratio of cancellation, milestones vs single, adjusted by logistic regression."""

    ok: bool
    message: str
    odds_ratio: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    contracts: int = 0
    cancellations: int = 0
    clusters: int = 0
    covariates: tuple[str, ...] = ()
    sampled_from: int | None = None
    coefficients: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Fewer of the rarer outcome than ``EVENTS_PER_TERM`` per fitted term: the fit is unstable and its
    #: interval too narrow, so the odds ratio is a rough hint (said in ``message``).
    few_events: bool = False

    @property
    def adjusted_for(self) -> str:
        """``budget, planned duration and client history``: what the fitted model held equal (only those
        used; empty when every contract was alike in all of them)."""
        return joined([COVARIATE_NAMES[c] for c in self.covariates if c in COVARIATE_NAMES])

    def to_json(self) -> dict:
        out = asdict(self)
        out["ci"] = list(self.ci) if self.ci else None
        out["covariates"] = list(self.covariates)
        return out


@uses_prepared
def adjusted_comparison(con: duckdb.DuckDBPyConnection, filters: Filters, *,
                        max_rows: int = LOGIT_MAX_ROWS, seed: int = 42) -> AdjustedComparison:
    """Logistic regression of cancellation on structure, log budget, log planned duration and
    repeat client, with client-clustered (sandwich) errors; odds ratio for milestones vs single.

    Uses finished fixed-price contracts with a positive budget in one currency (the filters'
    currency, else the one with most such contracts). A covariate that is unknown for more
    than half of the contracts, or constant, is dropped and named in the message; contracts
    missing a kept covariate are left out. Beyond ``max_rows`` contracts a seeded random
    sample is fitted (said in ``sampled_from``).
    """
    # Not statsmodels.api: it imports every model (formulas, ...), over a second of start-up.
    # Logit (Newton's method) fits the same model as GLM with a binomial family (IRLS), to the
    # last digits, in a fifth of the time: a cold Cancellation page waits for it.
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning
    from statsmodels.tools.tools import add_constant

    base, params = contracts_sql(filters, client_history=True)
    rows_sql = f"""SELECT currency, (structure = 'milestones')::INTEGER AS milestones, cancelled::INTEGER AS cancelled,
                          ln(budget::DOUBLE) AS log_budget, ln(planned_days::DOUBLE) AS log_planned_days,
                          CASE WHEN prior_client_contracts > 0 THEN 1 ELSE 0 END AS repeat_client,
                          client, hash(source, contract_id, {int(seed)}) AS draw, cid
                   FROM ({base}) WHERE finished AND structure IN ('milestones', 'single') AND budget > 0"""
    currency = filters.single_currency
    if currency is None:
        top = con.execute(f"SELECT currency, count(*) n FROM ({rows_sql}) GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1", params).fetchone()
        if top is None:
            return AdjustedComparison(False, "no finished fixed-price contracts with a budget to model")
        currency = top[0]
    total = con.execute(f"SELECT count(*) FROM ({rows_sql}) WHERE currency = ?", params + [currency]).fetchone()[0]
    # The sample: the contracts with the smallest hash of (source, contract_id, seed), in that order.
    # (A REPEATABLE reservoir sample still depended on the order threads delivered the rows: two
    # runs on the same workspace fitted different samples.)
    # (Ties in the draw, if ever, are broken by the contract's key: unique in the prepared tables.)
    # The cluster (the client, or the contract itself when it has none) is named after sampling.
    sample = f"ORDER BY draw, cid LIMIT {int(max_rows)}" if total > max_rows else ""
    df = con.execute(f"""SELECT * EXCLUDE (draw, cid, client), coalesce('c:' || client, 'k:' || cid::VARCHAR) AS cluster
                         FROM (SELECT * FROM ({rows_sql}) WHERE currency = ? {sample})""",
                     params + [currency]).df()
    sampled_from = int(total) if total > max_rows else None
    notes: list[str] = []
    covariates = ["milestones", "log_budget", "log_planned_days", "repeat_client"]
    for name in ("log_planned_days",):
        if df[name].isna().mean() > 0.5:
            covariates.remove(name)
            notes.append("planned duration left out (unknown for most contracts)")
    # The sample size is the fitted one: contracts missing a kept covariate do not count.
    unknown = len(df)
    df = df.dropna(subset=covariates)
    unknown -= len(df)
    need = SMALL_SAMPLE_FINISHED
    groups = df.groupby("milestones")["cancelled"].agg(["count", "sum"]).reindex([0, 1], fill_value=0)
    if (groups["count"] < need).any():
        left_out = f", after leaving out {unknown} with no planned duration" if unknown else ""
        return AdjustedComparison(
            False, f"too few finished contracts for an adjusted comparison ({int(groups.at[1, 'count'])} milestones, "
                   f"{int(groups.at[0, 'count'])} single{left_out}; {need} of each needed)", contracts=len(df),
            cancellations=int(df["cancelled"].sum()))
    if ((groups["sum"] == 0) | (groups["sum"] == groups["count"])).any():
        return AdjustedComparison(
            False, "every contract of one structure ended the same way (all cancelled or none): "
                   "the odds ratio is not estimable", contracts=len(df), cancellations=int(df["cancelled"].sum()))
    for name in list(covariates[1:]):
        if df[name].nunique() < 2:
            covariates.remove(name)
            notes.append(f"{COVARIATE_NAMES[name]} left out (the same for every contract)")
    exog = add_constant(df[covariates].astype(float), has_constant="add")
    clusters = pd.factorize(df["cluster"])[0]
    n_clusters = int(clusters.max() + 1) if len(clusters) else 0
    if n_clusters < 2:
        return AdjustedComparison(False, "all contracts are with one client: client-clustered errors need several",
                                  contracts=len(df), cancellations=int(df["cancelled"].sum()))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("error", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            result = Logit(df["cancelled"].astype(float), exog).fit(
                disp=0, cov_type="cluster", cov_kwds={"groups": clusters})
    except PerfectSeparationWarning:
        return AdjustedComparison(False, "the model separates cancelled from other contracts perfectly: "
                                         "no odds ratio can be estimated", contracts=len(df))
    except (ConvergenceWarning, np.linalg.LinAlgError, ValueError) as exc:
        return AdjustedComparison(False, f"the model did not converge ({type(exc).__name__}); "
                                         "too little or too uniform data", contracts=len(df))
    coef = float(result.params["milestones"])
    low, high = (float(v) for v in result.conf_int().loc["milestones"])
    p = float(result.pvalues["milestones"])
    if not (result.mle_retvals.get("converged", False) and all(map(math.isfinite, (coef, low, high, p)))):
        return AdjustedComparison(False, "the model did not converge; too little or too uniform data", contracts=len(df))
    conf = result.conf_int()
    coefficients = {
        name: {"odds_ratio": float(np.exp(result.params[name])), "ci_low": float(np.exp(conf.loc[name, 0])),
               "ci_high": float(np.exp(conf.loc[name, 1])), "p_value": float(result.pvalues[name])}
        for name in covariates
    }
    cancelled = int(df["cancelled"].sum())
    rarer, rarer_words = min((cancelled, "cancellation"), (len(df) - cancelled, "completion"))
    few_events = rarer < EVENTS_PER_TERM * len(covariates)
    if few_events:
        notes.append(f"only {plural(rarer, rarer_words)} for {plural(len(covariates), 'term')} of the model "
                     f"(about {EVENTS_PER_TERM} per term are needed): a rough hint, not a finding")
    if n_clusters < 30:
        notes.append(f"only {n_clusters} clients: client-clustered errors are unreliable")
    if sampled_from:
        notes.append(f"fitted on a random sample of {len(df):,} of {sampled_from:,} contracts")
    odds = math.exp(coef)
    fitted = AdjustedComparison(True, "", odds, (math.exp(low), math.exp(high)), p, len(df), cancelled,
                                n_clusters, tuple(covariates), sampled_from, coefficients, few_events)
    held = f"adjusted for {fitted.adjusted_for}" if fitted.adjusted_for else "with nothing to adjust for"
    verdict = (f"{held}, milestone contracts have {odds:.2f}× the odds of cancellation "
               f"of single-payment ones (95 % CI {math.exp(low):.2f}–{math.exp(high):.2f}, {p_text(p)}, {currency})")
    return replace(fitted, message="; ".join([verdict] + notes))
