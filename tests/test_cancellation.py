"""Cancellation risk and the shared filters, on datasets whose answers were worked out by hand.

The fixture (tests/fixtures/analysis, see its README) has, in USD: milestones M1 completed,
M2 cancelled, M3 disputed, M4 active; single S1, S5 completed, S2, S3 cancelled, S4 active;
hourly H1 completed. Intervals are checked against the textbook formulas and against
statsmodels called directly.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import cancellation as c
from analysis import sample
from analysis.errors import UserError
from analysis.filters import SMALL_SAMPLE_FINISHED, Filters, contracts_sql, prepared
from analysis.importing import import_files
from tests.fixtures.analysis.helpers import contract, import_contracts, import_fixture
from tests.stats_by_hand import newcombe_by_hand, wilson_by_hand

TODAY = dt.date(2026, 3, 31)
USD = Filters(currency="USD")


@pytest.fixture
def fixture_con(con):
    import_fixture(con)
    return con


def by_structure(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index("structure")


# --- rates ------------------------------------------------------------------------------

def test_rates_by_structure_counts_and_wilson_intervals(fixture_con):
    rates = by_structure(c.rates_by_structure(fixture_con, USD))
    m, s, h = rates.loc["milestones"], rates.loc["single"], rates.loc["hourly"]
    # milestones: M1 completed, M2 cancelled, M3 disputed, M4 active
    assert (m.contracts, m.completed, m.cancelled_only, m.disputed, m.active) == (4, 1, 1, 1, 1)
    assert (m.finished, m.cancelled) == (3, 2)  # disputed counts as cancelled
    assert m.cancellation_rate == pytest.approx(2 / 3)
    assert (m.ci_low, m.ci_high) == pytest.approx(wilson_by_hand(2, 3))
    # single: S1, S5 completed; S2, S3 cancelled; S4 active
    assert (s.contracts, s.finished, s.cancelled, s.active) == (5, 4, 2, 1)
    assert s.cancellation_rate == pytest.approx(0.5)
    assert (s.ci_low, s.ci_high) == pytest.approx(wilson_by_hand(2, 4))
    assert (h.contracts, h.finished, h.cancelled, h.cancellation_rate) == (1, 1, 0, 0.0)
    assert rates["small_sample"].all()


def test_wilson_interval_agrees_with_formula_and_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    low, high = c.wilson_interval([7, 0, 40], [31, 12, 40])
    for i, (k, n) in enumerate([(7, 31), (0, 12), (40, 40)]):
        assert (low[i], high[i]) == pytest.approx(wilson_by_hand(k, n))
        assert (low[i], high[i]) == pytest.approx(proportion_confint(k, n, method="wilson"))
    assert low[1] == 0 and high[2] == pytest.approx(1)
    nan_low, nan_high = c.wilson_interval([0], [0])
    assert math.isnan(nan_low[0]) and math.isnan(nan_high[0])


def test_comparison_newcombe_interval_and_two_sided_test(fixture_con):
    cmp = c.compare_structures(c.rates_by_structure(fixture_con, USD))
    assert cmp.rate_difference == pytest.approx(2 / 3 - 1 / 2)
    assert cmp.difference_ci == pytest.approx(newcombe_by_hand(2, 3, 2, 4))
    # Expected counts below 5 (every cell here): Fisher's exact test on the 2x2 table, not the score test
    assert cmp.p_value == pytest.approx(stats.fisher_exact([[2, 1], [2, 2]]).pvalue) == pytest.approx(1.0)
    assert cmp.test_method == c.FISHER_TEST
    assert cmp.small_sample and "too few" in cmp.message and not cmp.clear_difference


def test_small_expected_counts_use_the_exact_test_so_test_and_interval_agree():
    # 1 of 30 against 6 of 30: the score test says p = 0.044, the Newcombe interval includes 0
    # (-34.2 to +0.3 points); Fisher's exact test (p = 0.103, by scipy) agrees with the interval.
    cmp = c.compare_rates(1, 30, 6, 30)
    assert min(30 * 7 / 60, 30 * 53 / 60) == 3.5  # the smallest expected count
    assert cmp.test_method == c.FISHER_TEST
    assert cmp.p_value == pytest.approx(stats.fisher_exact([[1, 29], [6, 24]]).pvalue) == pytest.approx(0.1028, abs=1e-4)
    assert cmp.difference_ci[0] < 0 < cmp.difference_ci[1]
    assert not cmp.clear_difference
    assert cmp.message == "no clear difference between milestone and single-payment contracts (p = 0.10)"


def test_a_difference_is_called_only_when_test_and_interval_agree():
    # 2 of 30 against 9 of 36: smallest expected count 30 * 11 / 66 = 5, so the score test stands
    # (p = 0.047 < 0.05, equal to the Pearson chi-square), yet the interval still reaches +0.1 points.
    cmp = c.compare_rates(2, 30, 9, 36)
    assert cmp.test_method == c.SCORE_TEST
    assert cmp.p_value == pytest.approx(stats.chi2_contingency([[2, 28], [9, 27]], correction=False).pvalue)
    assert cmp.p_value < 0.05 and cmp.difference_ci[0] < 0 < cmp.difference_ci[1]
    assert not cmp.clear_difference and cmp.to_json()["clear_difference"] is False
    assert cmp.message.startswith("no clear difference") and "less often" not in cmp.message
    assert "p = 0.047, but the 95 % CI -35.1 to +0.1 includes 0, no difference" in cmp.message


@pytest.mark.parametrize(("p_value", "shown"), [
    (0.0004, "p < 0.001"), (0.0042, "p = 0.004"), (0.0496, "p = 0.050"), (0.0504, "p = 0.050"),
    (0.051, "p = 0.051"), (0.31, "p = 0.31")])
def test_p_values_near_the_threshold_keep_three_decimals(p_value, shown):
    assert c.p_text(p_value) == shown


def test_comparison_on_larger_counts_matches_statsmodels_newcombe():
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    cmp = c.compare_rates(103, 708, 186, 708)
    assert cmp.difference_ci == pytest.approx(newcombe_by_hand(103, 708, 186, 708))
    assert cmp.difference_ci == pytest.approx(confint_proportions_2indep(103, 708, 186, 708, method="newcomb"))
    assert cmp.p_value == pytest.approx(proportions_ztest([103, 186], [708, 708])[1])
    assert not cmp.small_sample and "less often" in cmp.message and cmp.clear_difference


def test_status_unknown_is_left_out_and_counted(fixture_con):
    # A transaction-history import cannot know the status: emulate it on S4 and S5.
    fixture_con.execute("UPDATE contracts SET status = NULL WHERE contract_id IN ('S4', 'S5')")
    s = by_structure(c.rates_by_structure(fixture_con, USD)).loc["single"]
    assert (s.contracts, s.status_unknown, s.active, s.finished, s.cancelled) == (5, 2, 0, 3, 2)
    assert s.cancellation_rate == pytest.approx(2 / 3)
    # ... and the user's completion in the dashboard brings it back
    fixture_con.execute("INSERT INTO contract_completions VALUES ('fixture', 'S5', 'completed', NULL, NULL, now())")
    s = by_structure(c.rates_by_structure(fixture_con, USD)).loc["single"]
    assert (s.status_unknown, s.finished) == (1, 4)


# --- filters ------------------------------------------------------------------------------

def _ids(con, filters: Filters) -> list[str]:
    with prepared(con):
        sql, params = contracts_sql(filters)
        return sorted(r[0] for r in con.execute(f"SELECT contract_id FROM ({sql})", params).fetchall())


def test_filters_select_contracts(fixture_con):
    assert _ids(fixture_con, Filters(client="acme")) == ["E1", "M1", "M2", "S1"]  # case-insensitive
    assert _ids(fixture_con, Filters(client=("Acme", "Zeta"), currency="eur")) == ["E1", "E2"]
    assert _ids(fixture_con, Filters(date_from="2026-02-01", date_to="2026-02-10")) == ["E2", "M3", "S2", "S3"]
    assert _ids(fixture_con, Filters(platform="Freelancer")) == ["S2", "S3"]
    assert _ids(fixture_con, Filters(freelancer="cy", category="translation")) == ["S5"]
    assert _ids(fixture_con, Filters(date_to=dt.date(2025, 12, 31))) == ["S5"]
    assert _ids(fixture_con, Filters(client="nobody")) == []


def test_filter_values_reach_sql_only_as_parameters(fixture_con):
    hostile = "Acme' OR '1'='1"
    assert _ids(fixture_con, Filters(client=hostile)) == []
    assert _ids(fixture_con, Filters(category="x'); DROP TABLE contracts; --")) == []
    assert fixture_con.execute("SELECT count(*) FROM contracts").fetchone()[0] == 12


def test_filters_round_trip_through_a_dict():
    f = Filters(date_from="2026-01-01", date_to=dt.date(2026, 6, 30), client=("Acme", "Beta"), currency="usd")
    d = f.to_dict()
    assert d == {"date_from": "2026-01-01", "date_to": "2026-06-30", "client": ["Acme", "Beta"], "currency": "USD"}
    assert Filters.from_dict(d) == f
    assert Filters.from_dict({"client": "", "platform": None, "unknown": "x"}) == Filters()
    assert Filters().is_empty() and Filters().describe() == "all contracts"
    assert "client Acme or Beta" in f.describe()


@pytest.mark.parametrize("kwargs, fragment", [
    ({"date_from": "31/02/2026"}, "cannot read '31/02/2026' as a date"),
    ({"date_to": "yesterday"}, "date_to"),
    ({"currency": "dollars"}, "three-letter"),
    ({"date_from": "2026-05-01", "date_to": "2026-01-01"}, "after"),
])
def test_bad_filter_values_are_user_errors(kwargs, fragment):
    with pytest.raises(UserError, match=fragment):
        Filters(**kwargs)


# --- breakdowns -----------------------------------------------------------------------------

def test_breakdowns_by_category_and_client_history(fixture_con):
    b = c.breakdowns(fixture_con, USD)
    get = lambda dim, group, structure: b[(b.dimension == dim) & (b.group == group) & (b.structure == structure)].iloc[0]  # noqa: E731
    # writing: M1 completed, M2 cancelled | S1 completed, S2 cancelled
    assert tuple(get("category", "writing", "milestones")[["finished", "cancelled"]]) == (2, 1)
    assert tuple(get("category", "writing", "single")[["finished", "cancelled"]]) == (2, 1)
    # design: M3 disputed | S3 cancelled
    assert tuple(get("category", "design", "milestones")[["finished", "cancelled"]]) == (1, 1)
    # client history over the whole workspace: new = M1, M3 | S2, S5 ; repeat = M2 | S1, S3
    assert tuple(get("client_history", "new client", "milestones")[["finished", "cancelled"]]) == (2, 1)
    assert tuple(get("client_history", "repeat client", "milestones")[["finished", "cancelled"]]) == (1, 1)
    assert tuple(get("client_history", "new client", "single")[["finished", "cancelled"]]) == (2, 1)
    assert tuple(get("client_history", "repeat client", "single")[["finished", "cancelled"]]) == (2, 1)
    # budget bands: S3 (80) and S5 (60) are under 100; hourly has no budget
    assert tuple(get("budget_band", "under 100", "single")[["finished", "cancelled"]]) == (2, 1)
    assert get("budget_band", "unknown", "hourly")["finished"] == 1
    # planned duration 5 days (M1, S2), 3 days (S5) -> up to 7 days
    assert tuple(get("duration_band", "up to 7 days", "single")[["finished", "cancelled"]]) == (2, 1)
    assert set(b.dimension) == set(c.BREAKDOWN_DIMENSIONS)
    assert b["small_sample"].all()
    assert set(get("start_year", "2025", "single")[["finished"]]) == {1}


def test_breakdown_differences_use_newcombe_per_group(fixture_con):
    d = c.breakdown_differences(c.breakdowns(fixture_con, USD))
    row = d[(d.dimension == "category") & (d.group == "writing")].iloc[0]
    assert row.rate_difference == pytest.approx(0.0)
    assert (row.ci_low, row.ci_high) == pytest.approx(newcombe_by_hand(1, 2, 1, 2))
    translation = d[(d.dimension == "category") & (d.group == "translation")].iloc[0]
    assert translation.milestones_finished == 0 and math.isnan(translation.rate_difference)


def test_breakdown_difference_and_newcombe_interval_of_unequal_rates():
    """A hand-built breakdown: milestones 1 cancelled of 4 finished, single 3 of 4 ->
    1/4 - 3/4 = -0.5, with the Newcombe interval of those counts worked out by hand."""
    breakdown = pd.DataFrame([
        {"dimension": "category", "group": "design", "group_order": "design", "structure": "milestones",
         "cancelled": 1, "finished": 4},
        {"dimension": "category", "group": "design", "group_order": "design", "structure": "single",
         "cancelled": 3, "finished": 4},
    ])
    row = c.breakdown_differences(breakdown).iloc[0]
    assert (row.milestones_cancelled, row.milestones_finished, row.single_cancelled, row.single_finished) == (1, 4, 3, 4)
    assert row.rate_difference == pytest.approx(-0.5)
    assert (row.ci_low, row.ci_high) == pytest.approx(newcombe_by_hand(1, 4, 3, 4))


def test_budget_bands_name_the_currency_when_several_are_mixed(fixture_con):
    b = c.breakdowns(fixture_con, Filters())
    bands = set(b[b.dimension == "budget_band"]["group"])
    assert "EUR 1,000–4,999" in bands and "USD under 100" in bands


# --- time to cancellation -------------------------------------------------------------------

def test_share_not_cancelled_counts_completion_as_a_competing_outcome(fixture_con):
    from statsmodels.duration.survfunc import CumIncidenceRight

    data = c.survival_data(fixture_con, USD, TODAY)
    inc = c.cumulative_incidence(data)
    ms = inc[inc.structure == "milestones"].set_index("time")
    # milestones: M1 completed day 5, M2 cancelled day 5, M3 disputed day 7, M4 active 30 days.
    # Day 5: 4 running, 1 cancelled -> 1/4. Day 7: 2 running, 1 cancelled, after 2/4 left -> 1/4 + 2/4 * 1/2.
    # (Kaplan–Meier, censoring M1's completion, would claim 1 - 3/4 * 1/2 = 5/8 cancelled by day 7.)
    assert ms.loc[5.0, "cancelled"] == pytest.approx(1 / 4)
    assert ms.loc[7.0, "cancelled"] == pytest.approx(1 / 2)
    assert list(ms["at_risk"]) == [4, 2, 1]
    direct = CumIncidenceRight(np.array([5, 5, 7, 30.0]), np.array([2, 1, 1, 0.0]))
    assert ms["cancelled_low"].to_numpy() == pytest.approx(np.clip(direct.cinc[0] - 1.959964 * direct.cinc_se[0], 0, 1))
    assert ms["cancelled_high"].to_numpy() == pytest.approx(np.clip(direct.cinc[0] + 1.959964 * direct.cinc_se[0], 0, 1))
    assert (ms["cancelled_low"] <= ms["cancelled"]).all() and (ms["cancelled"] <= ms["cancelled_high"]).all()
    single = inc[inc.structure == "single"].set_index("time")
    # single: S3 cancelled and S5 completed day 2 (5 running), S2 cancelled day 3 (3 running), S1 completed 10, S4 active
    assert single.loc[2.0, "cancelled"] == pytest.approx(1 / 5)
    assert single.loc[3.0, "cancelled"] == pytest.approx(1 / 5 + 3 / 5 * 1 / 3)
    assert single.loc[10.0, "cancelled"] == pytest.approx(2 / 5)  # a completion adds nothing
    hourly = inc[inc.structure == "hourly"]
    assert hourly["cancelled"].eq(0).all()  # completed, never cancelled
    assert (data.excluded_no_end_date, data.excluded_status_unknown) == (0, 0)


def test_share_not_cancelled_in_fraction_of_planned_duration(fixture_con):
    inc = c.cumulative_incidence(c.survival_data(fixture_con, USD, TODAY, scale="fraction"))
    ms = inc[inc.structure == "milestones"].set_index("time")
    # M2 cancelled at 5/10, M3 at 7/10; M1 completed at 5/5, M4 active at 30/20
    assert list(ms.index) == [0.5, 0.7, 1.0, 1.5]
    assert list(ms["cancelled"]) == pytest.approx([1 / 4, 1 / 4 + 3 / 4 * 1 / 3, 1 / 2, 1 / 2])


def test_active_contracts_are_censored_at_today(fixture_con):
    early = c.survival_data(fixture_con, USD, dt.date(2026, 3, 11)).counts
    late = c.survival_data(fixture_con, USD, dt.date(2026, 4, 30)).counts
    m_active = lambda d: d[(d.structure == "milestones") & (d.outcome == 0)]["time"].tolist()  # noqa: E731
    assert m_active(early) == [10.0] and m_active(late) == [60.0]


def test_cumulative_incidence_with_completion_as_competing_event(fixture_con):
    from statsmodels.duration.survfunc import CumIncidenceRight

    inc = c.cumulative_incidence(c.survival_data(fixture_con, USD, TODAY))
    ms = inc[inc.structure == "milestones"].set_index("time")
    # day 5: 4 at risk, one cancelled, one completed; day 7: 2 at risk, one cancelled
    assert ms.loc[5.0, "cancelled"] == pytest.approx(0.25)
    assert ms.loc[5.0, "completed"] == pytest.approx(0.25)
    assert ms.loc[7.0, "cancelled"] == pytest.approx(0.5)
    assert ms.loc[7.0, "completed"] == pytest.approx(0.25)
    direct = CumIncidenceRight(np.array([5, 5, 7, 30.0]), np.array([2, 1, 1, 0.0]))
    assert ms["cancelled"].to_numpy() == pytest.approx(direct.cinc[0])
    assert ms["completed"].to_numpy() == pytest.approx(direct.cinc[1])


def test_logrank_matches_survdiff_called_directly(fixture_con):
    from statsmodels.duration.survfunc import survdiff

    test = c.logrank_test(c.survival_data(fixture_con, USD, TODAY))
    time = np.array([5, 5, 7, 30, 10, 2, 3, 30, 2.0])
    event = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0])
    group = np.array(["milestones"] * 4 + ["single"] * 5)
    chi2, p = survdiff(time, event, group)
    assert test.chi2 == pytest.approx(chi2) and test.p_value == pytest.approx(p)
    assert (test.contracts, test.cancellations) == (9, 4)
    assert "too few" in test.message


# --- adjusted comparison ----------------------------------------------------------------------

def test_adjusted_comparison_says_plainly_when_data_are_too_few(fixture_con):
    result = c.adjusted_comparison(fixture_con, USD)
    assert not result.ok and result.odds_ratio is None
    assert "too few finished contracts" in result.message


def test_adjusted_odds_ratio_matches_statsmodels_on_independently_built_data(con, tmp_path):
    import statsmodels.api as sm

    paths = sample.write_csvs(tmp_path, 1500, seed=3)
    import_files(con, paths, fmt="canonical", source="sample")
    result = c.adjusted_comparison(con, Filters(currency="USD"))
    assert result.ok, result.message

    # The same model built in pandas straight from the CSV files.
    contracts = pd.read_csv(paths[0], dtype=str)
    milestones = pd.read_csv(paths[1], dtype=str)
    counts = milestones.groupby("contract_id").size()
    contracts["n_ms"] = contracts["contract_id"].map(counts).fillna(0)
    contracts["start"] = pd.to_datetime(contracts["start_date"])
    contracts = contracts.sort_values(["client", "start", "contract_id"])
    contracts["prior"] = contracts.groupby("client").cumcount()
    budget = pd.to_numeric(contracts["budget"].str.replace(",", ""), errors="coerce")
    planned = (pd.to_datetime(contracts["planned_end_date"]) - contracts["start"]).dt.days
    fixed = contracts["contract_type"].fillna("fixed") == "fixed"
    finished = contracts["status"].isin(["completed", "cancelled", "disputed"])
    keep = fixed & finished & (budget > 0) & (contracts["currency"] == "USD") & (planned > 0)
    df = pd.DataFrame({
        "cancelled": contracts["status"].isin(["cancelled", "disputed"]).astype(float),
        "milestones": (contracts["n_ms"] >= 2).astype(float),
        "log_budget": np.log(budget), "log_planned_days": np.log(planned.where(planned > 0)),
        "repeat_client": (contracts["prior"] > 0).astype(float), "client": contracts["client"],
    })[keep]
    exog = sm.add_constant(df[["milestones", "log_budget", "log_planned_days", "repeat_client"]])
    fit = sm.GLM(df["cancelled"], exog, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(df["client"])[0]})
    assert result.contracts == len(df)
    assert result.odds_ratio == pytest.approx(math.exp(fit.params["milestones"]), rel=1e-6)
    assert result.ci == pytest.approx(tuple(np.exp(fit.conf_int().loc["milestones"])), rel=1e-6)
    assert result.p_value == pytest.approx(fit.pvalues["milestones"], rel=1e-6)
    assert result.clusters == df["client"].nunique()
    # Enough of both outcomes for the 4 terms: no "rough hint".
    assert min(df["cancelled"].sum(), (1 - df["cancelled"]).sum()) >= 40 and not result.few_events
    assert "rough hint" not in result.message


def test_adjusted_comparison_counts_only_the_contracts_it_would_fit(con, tmp_path):
    """31 contracts of each structure, but 15 of each without a planned end date: the model would
    fit 16 per structure, under the 30 it asks for, so it refuses instead of fitting them."""
    specs = []
    for structure, prefix, cancelled in (("milestones", "M", 8), ("single", "S", 16)):
        for i in range(31):
            planned = {"planned_end_date": ""} if i < 15 else {"planned_end_date": f"2026-01-{11 + i % 9:02d}"}
            specs.append(contract(f"{prefix}{i}", "cancelled" if i % 31 >= 31 - cancelled else "completed",
                                  structure, client=f"C{i % 7}", **planned))
    import_contracts(con, tmp_path, specs)
    result = c.adjusted_comparison(con, Filters())
    assert not result.ok and result.odds_ratio is None
    assert result.message == ("too few finished contracts for an adjusted comparison (16 milestones, 16 single, "
                              "after leaving out 30 with no planned duration; 30 of each needed)")
    assert result.contracts == 32


def test_adjusted_comparison_reports_separation_instead_of_failing(con, tmp_path):
    specs = [contract(f"M{i}", "completed", "milestones", client=f"C{i % 7}") for i in range(35)]
    specs += [contract(f"S{i}", "cancelled", client=f"C{i % 7}") for i in range(35)]
    import_contracts(con, tmp_path, specs)
    result = c.adjusted_comparison(con, Filters())
    assert not result.ok and "not estimable" in result.message


# --- edge cases ------------------------------------------------------------------------------

def test_no_cancellations(con, tmp_path):
    import_contracts(con, tmp_path, [contract("A", "completed", "milestones"), contract("B", "completed"),
                                     contract("C", "completed")])
    rates = by_structure(c.rates_by_structure(con, Filters()))
    assert rates.loc["milestones", "cancellation_rate"] == 0.0
    assert rates.loc["single", "ci_low"] == 0.0
    assert rates.loc["single", "ci_high"] == pytest.approx(wilson_by_hand(0, 2)[1])
    cmp = c.compare_structures(rates.reset_index())
    assert cmp.rate_difference == 0.0 and cmp.p_value == 1.0
    assert cmp.difference_ci == pytest.approx(newcombe_by_hand(0, 1, 0, 2))
    assert c.logrank_test(c.survival_data(con, Filters(), TODAY)).message.startswith("no cancellations")


def test_all_cancelled(con, tmp_path):
    import_contracts(con, tmp_path, [contract("A", "cancelled", "milestones"), contract("B", "disputed"),
                                     contract("C", "cancelled")])
    rates = by_structure(c.rates_by_structure(con, Filters()))
    assert rates.loc["single", "cancellation_rate"] == 1.0
    assert rates.loc["single", "ci_high"] == pytest.approx(1.0)
    assert rates.loc["single", "ci_low"] == pytest.approx(wilson_by_hand(2, 2)[0])
    assert c.compare_structures(rates.reset_index()).p_value == 1.0


def test_empty_group_and_nothing_finished(con, tmp_path):
    import_contracts(con, tmp_path, [contract("A", "active", "milestones"), contract("B", "active")])
    rates = by_structure(c.rates_by_structure(con, Filters()))
    assert list(rates.index) == ["milestones", "single", "hourly"]
    assert rates.loc["hourly", "contracts"] == 0  # empty group, still listed
    assert rates["finished"].sum() == 0 and rates["cancellation_rate"].isna().all()
    cmp = c.compare_structures(rates.reset_index())
    assert cmp.rate_difference is None and cmp.p_value is None
    assert cmp.message == "no finished milestone contracts: nothing to compare"  # in words, not the column value
    assert c.cumulative_incidence(c.survival_data(con, Filters(), TODAY)).empty
    assert not c.adjusted_comparison(con, Filters()).ok


def test_single_contract(con, tmp_path):
    import_contracts(con, tmp_path, [contract("A", "cancelled")])
    rates = by_structure(c.rates_by_structure(con, Filters()))
    assert (rates.loc["single", "finished"], rates.loc["single", "cancelled"]) == (1, 1)
    assert rates.loc["single", "small_sample"]
    assert rates.loc["milestones", "finished"] == 0
    inc = c.cumulative_incidence(c.survival_data(con, Filters(), TODAY))
    assert inc["cancelled"].tolist() == [1.0] and inc["at_risk"].tolist() == [1]  # cancelled on day 5, the only one
    assert c.logrank_test(c.survival_data(con, Filters(), TODAY)).p_value is None


def test_small_sample_threshold_is_exposed(con, tmp_path):
    specs = [contract(f"S{i}", "cancelled" if i < 10 else "completed") for i in range(SMALL_SAMPLE_FINISHED)]
    specs += [contract(f"M{i}", "completed", "milestones") for i in range(SMALL_SAMPLE_FINISHED - 1)]
    import_contracts(con, tmp_path, specs)
    rates = by_structure(c.rates_by_structure(con, Filters()))
    assert not rates.loc["single", "small_sample"] and rates.loc["milestones", "small_sample"]


def test_logrank_on_cancellations_all_on_one_day_says_why_in_words(con, tmp_path):
    """Five contracts of each structure, every one cancelled five days after its start: nothing
    varies, survdiff's variance is singular, and the message says so instead of numpy's words."""
    import_contracts(con, tmp_path, [contract(f"M{i}", "cancelled", "milestones") for i in range(5)]
                     + [contract(f"S{i}", "cancelled") for i in range(5)])
    test = c.logrank_test(c.survival_data(con, Filters(), TODAY))
    assert test.p_value is None and (test.contracts, test.cancellations) == (10, 10)
    assert test.message == ("log-rank test not possible: the times of the cancellations carry nothing to compare "
                            "(e.g. every contract ended on the same day)")
    assert c.logrank_test(c.survival_data(con, Filters(), TODAY), ("milestones", "hourly")).message == \
        "no hourly contracts to compare"


def test_logrank_without_one_structure_names_it_in_words(con, tmp_path):
    """An all-hourly history has no milestone or single-payment contracts at all: the message says so
    in the report's words, and blames the dates only when contracts were left out for them."""
    import_contracts(con, tmp_path, [contract(f"H{i}", "completed", contract_type="hourly", budget="") for i in range(3)]
                     + [contract("H9", "cancelled", contract_type="hourly", budget="", end_date="")])
    data = c.survival_data(con, Filters(), TODAY)
    assert data.excluded_no_end_date == 1
    assert c.logrank_test(data).message == "no milestone or single-payment contracts with the dates the curves need to compare"


@pytest.mark.parametrize("p, shown", [(0.0004, "p < 0.001"), (0.004, "p = 0.004"), (0.0496, "p = 0.050"),
                                      (0.05096, "p = 0.051"), (0.0949, "p = 0.095"), (0.31, "p = 0.31")])
def test_p_values_are_never_rounded_onto_the_threshold(p, shown):
    assert c.p_text(p) == shown


@pytest.mark.parametrize("milestone_contracts", [20, 40])
def test_logrank_draws_no_conclusion_below_30_finished_per_group(con, tmp_path, milestone_contracts):
    from statsmodels.duration.survfunc import survdiff

    # Milestone contracts: 3 in 4 cancelled on day 2, the rest completed on day 5;
    # single-payment: 60, 5 cancelled on day 9, the rest completed on day 5.
    specs = [contract(f"M{i}", "cancelled" if i % 4 else "completed", "milestones",
                      end_date="2026-01-03" if i % 4 else "2026-01-06") for i in range(milestone_contracts)]
    specs += [contract(f"S{i}", "cancelled" if i < 5 else "completed", end_date="2026-01-10" if i < 5 else "2026-01-06")
              for i in range(60)]
    import_contracts(con, tmp_path, specs)
    test = c.logrank_test(c.survival_data(con, Filters(), TODAY))
    m = milestone_contracts
    time = np.array([2.0 if i % 4 else 5.0 for i in range(m)] + [9.0] * 5 + [5.0] * 55)
    event = np.array([1.0 if i % 4 else 0.0 for i in range(m)] + [1.0] * 5 + [0.0] * 55)
    chi2, p = survdiff(time, event, np.array(["m"] * m + ["s"] * 60))
    assert p < 0.001 and test.p_value == pytest.approx(p)
    if m < SMALL_SAMPLE_FINISHED:
        assert test.message == ("too few finished contracts to conclude anything about the risk over time "
                                "(20 milestone, 60 single-payment; 30 per group needed)")
    else:
        assert test.message == ("the risk of cancellation over time (among contracts still running) differs between "
                                "milestone and single-payment contracts")


def test_adjusted_comparison_names_only_the_covariates_it_used(con, tmp_path):
    # Every contract has the same budget (100): the model cannot use it, so it must not claim to adjust for it.
    specs = []
    for structure, prefix, cancelled_every in (("milestones", "M", 5), ("single", "S", 3)):
        for i in range(40):
            specs.append(contract(f"{prefix}{i}", "cancelled" if i % cancelled_every == 0 else "completed", structure,
                                  client=f"{prefix}C{i % 13}", planned_end_date=f"2026-01-{5 + i % 20:02d}"))
    import_contracts(con, tmp_path, specs)
    result = c.adjusted_comparison(con, Filters())
    assert result.ok, result.message
    assert result.covariates == ("milestones", "log_planned_days", "repeat_client")
    assert result.adjusted_for == "planned duration and client history"
    assert result.message.startswith("adjusted for planned duration and client history, milestone contracts have ")
    assert "budget left out (the same for every contract)" in result.message
    assert "adjusted for budget" not in result.message
    # 8 + 14 cancellations (every 5th of 40, every 3rd of 40) for 3 terms: under 10 per term.
    assert result.few_events and result.cancellations == 22
    assert ("only 22 cancellations for 3 terms of the model (about 10 per term are needed): a rough hint, "
            "not a finding") in result.message


def test_breakdown_verdicts_rest_on_adjusted_p_values():
    """Three category groups: A 20 of 100 vs 35 of 100 (p = 0.0175), B 2 of 30 vs 9 of 36 (p = 0.0466),
    C 10 of 50 vs 10 of 50 (p = 1), and one too small to test. Holm–Šidák by hand over the three tested:
    1 − (1 − 0.0175)³ = 0.0516, max(0.0516, 1 − (1 − 0.0466)²) = 0.0910, max(0.0910, 1) = 1 — so A,
    a clear difference on its own, is not one among three comparisons."""
    counts = {"A": (20, 100, 35, 100), "B": (2, 30, 9, 36), "C": (10, 50, 10, 50), "D": (1, 5, 2, 6)}
    breakdown = pd.DataFrame([
        {"dimension": "category", "group": g, "group_order": g, "structure": s, "cancelled": cancelled, "finished": finished}
        for g, (mc, mn, sc, sn) in counts.items() for s, cancelled, finished in (("milestones", mc, mn), ("single", sc, sn))])
    d = c.breakdown_differences(breakdown).set_index("group")
    p = {g: stats.chi2_contingency([[mc, mn - mc], [sc, sn - sc]], correction=False).pvalue
         for g, (mc, mn, sc, sn) in counts.items() if g != "D"}
    assert d.loc["A", "p_value"] == pytest.approx(p["A"]) and p["A"] < 0.05
    assert c.compare_rates(*counts["A"]).clear_difference  # on its own
    assert d.loc["A", "p_adjusted"] == pytest.approx(1 - (1 - p["A"]) ** 3) and d.loc["A", "p_adjusted"] > 0.05
    assert d.loc["B", "p_adjusted"] == pytest.approx(max(1 - (1 - p["A"]) ** 3, 1 - (1 - p["B"]) ** 2))
    assert d.loc["C", "p_adjusted"] == pytest.approx(1.0)
    assert math.isnan(d.loc["D", "p_adjusted"]) and d.loc["D", "small_sample"]
    assert not d["clear_difference"].any()
    # Alone in its dimension, A keeps its verdict.
    alone = c.breakdown_differences(breakdown[breakdown["group"] == "A"]).iloc[0]
    assert alone.p_adjusted == pytest.approx(p["A"]) and alone.clear_difference
