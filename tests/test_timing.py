"""Payment timing on the hand-checked fixture (tests/fixtures/analysis/README.md).

Dates used below (USD): M1 starts 01-01, milestone k funded 01-0k, submitted 01-0(k+1),
paid 01-0(k+2); M2 starts 01-10, paid 01-14 (submitted 01-12, funded 01-10); M3 starts
02-01, paid 02-05 (submitted 02-03); M4 (direct) starts 03-01, paid 03-07 (submitted 03-05),
milestone 2 submitted 03-10 unpaid; S1 starts 01-05, funded 01-05, submitted 01-14, paid
01-17; S5 (direct) starts 2025-12-01, submitted and paid 12-03; H1 (Upwork hourly) starts
01-01, invoices submitted 01-11 / 01-18, paid 01-17 / 01-24.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analysis import timing
from analysis.filters import Filters
from tests.fixtures.analysis.helpers import import_fixture, import_rows

USD = Filters(currency="USD")


@pytest.fixture
def fixture_con(con):
    import_fixture(con)
    return con


def medians(con, filters=USD):
    summary = timing.timing_summary(con, filters)
    return summary.set_index(["measure", "structure"])


def test_spec_medians_first_payment_and_payment_lag(fixture_con):
    s = medians(fixture_con)
    # first payment - start: milestones M1 2, M2 4, M3 4, M4 6 -> 4; single S1 12, S5 2 -> 7; hourly 16
    assert s.loc[("start_to_first_payment", "milestones"), "median"] == 4
    assert s.loc[("start_to_first_payment", "milestones"), "n"] == 4  # the active M4 counts
    assert s.loc[("start_to_first_payment", "single"), "median"] == 7
    assert s.loc[("start_to_first_payment", "hourly"), "median"] == 16
    # paid - submitted: M1 five times 1, M2 2, M3 2, M4 2 -> 1; S1 3, S5 0 -> 1.5; H1 6, 6 -> 6
    assert s.loc[("submission_to_payment", "milestones"), "median"] == 1
    assert s.loc[("submission_to_payment", "milestones"), "n"] == 8
    assert s.loc[("submission_to_payment", "single"), "median"] == 1.5
    assert s.loc[("submission_to_payment", "hourly"), "median"] == 6
    assert s.loc[("submission_to_payment", "milestones"), "mean"] == pytest.approx((5 * 1 + 3 * 2) / 8)


def test_funded_to_paid_and_gaps(fixture_con):
    s = medians(fixture_con)
    # funded -> paid: M1 2 (x5), M2 4, M3 4, M4 6 -> 2 ; S1 12, S5 2 -> 7 ; hourly invoices are never funded
    assert s.loc[("funded_to_paid", "milestones"), "median"] == 2
    assert s.loc[("funded_to_paid", "milestones"), "p75"] == pytest.approx(np.percentile([2, 2, 2, 2, 2, 4, 4, 6], 75))
    assert s.loc[("funded_to_paid", "milestones"), "p25"] == pytest.approx(np.percentile([2, 2, 2, 2, 2, 4, 4, 6], 25))
    # p25 where it differs from the median and the minimum (interpolated between two values):
    # funded -> paid single S1 12, S5 2 -> 2 + 0.25 * 10 = 4.5; first payment - start milestones 2, 4, 4, 6 -> 3.5
    assert s.loc[("funded_to_paid", "single"), "p25"] == pytest.approx(np.percentile([12, 2], 25)) == 4.5
    assert s.loc[("start_to_first_payment", "milestones"), "p25"] == pytest.approx(np.percentile([2, 4, 4, 6], 25)) == 3.5
    assert s.loc[("funded_to_paid", "single"), "median"] == 7
    assert s.loc[("funded_to_paid", "hourly"), "n"] == 0
    # gaps between consecutive payments: M1 1,1,1,1 ; H1 7 ; single contracts have one payment
    assert s.loc[("gap_between_payments", "milestones"), "median"] == 1
    assert s.loc[("gap_between_payments", "milestones"), "n"] == 4
    assert s.loc[("gap_between_payments", "hourly"), "median"] == 7
    assert s.loc[("gap_between_payments", "single"), "n"] == 0


def test_withdrawable_dates_follow_platform_holds(fixture_con):
    s = medians(fixture_con)
    # Upwork +5 days, direct at once: M1 01-08 (7), M2 01-19 (9), M3 02-10 (9), M4 direct 03-07 (6) -> 8
    assert s.loc[("start_to_first_withdrawable", "milestones"), "median"] == 8
    # S1 Upwork 01-22 (17), S5 direct (2) -> 9.5
    assert s.loc[("start_to_first_withdrawable", "single"), "median"] == 9.5
    # Upwork hourly: the Wednesday 10 days after the week ends: 01-11 + 10 = 01-21 (after payment on 01-17)
    assert s.loc[("start_to_first_withdrawable", "hourly"), "median"] == 20
    assert s.loc[("submission_to_withdrawable", "hourly"), "median"] == 10


def test_withdrawable_position_as_of_a_date(fixture_con):
    pos = timing.withdrawable_position(fixture_con, Filters(), dt.date(2026, 1, 21)).set_index("currency")
    usd = pos.loc["USD"]
    # net (gross - fee) of what was paid by 01-21: M1 135, M2 45, S1 270, S5 60, H1 week 1 180; H1 week 2
    # (paid 01-24), M3 (02-05) and M4 (03-07) were not paid yet on 01-21
    assert usd["paid"] == pytest.approx(690)
    # withdrawable by 01-21: M1 135 (01-08..01-12), M2 45 (01-19), S5 60, H1 week 1 180 (01-21)
    assert usd["withdrawable"] == pytest.approx(420)
    # on hold: S1 270 (paid 01-17, withdrawable 01-22)
    assert usd["on_hold"] == pytest.approx(270)
    assert usd["next_release"].date() == dt.date(2026, 1, 22)
    # EUR kept apart: E1's first payment of 500, fee 50 (paid 01-16; the second, 01-31, not yet)
    assert pos.loc["EUR", "paid"] == pytest.approx(450)
    # Once everything is paid (03-31): net 1060 - 90 = 970, on hold M4's 100 (direct, at once) no longer
    later = timing.withdrawable_position(fixture_con, Filters(), dt.date(2026, 3, 31)).set_index("currency").loc["USD"]
    assert (later["paid"], later["withdrawable"], later["on_hold"]) == pytest.approx((970, 970, 0))
    assert pd.isna(later["next_release"])


def test_cash_curve_share_received_against_planned_duration(fixture_con):
    curve = timing.cash_curve(fixture_con, USD)
    ms = curve[curve.structure == "milestones"].set_index("fraction_elapsed")["share_received"]
    # finished milestone contracts M1 (0.2 at 0.4, 0.6, 0.8, 1.0, 1.2), M2 (0.5 at 0.4), M3 (0.5 at 0.4)
    assert ms.loc[0.3] == 0
    assert ms.loc[0.4] == pytest.approx(1.2 / 3)
    assert ms.loc[0.6] == pytest.approx(1.4 / 3)
    assert ms.loc[1.0] == pytest.approx(1.8 / 3)
    assert ms.loc[2.0] == pytest.approx(2.0 / 3)
    single = curve[curve.structure == "single"].set_index("fraction_elapsed")["share_received"]
    # S1 paid in full at 12/10 = 1.2; S5 at 2/3 of its 3 days (grid point 0.7); S2, S3 nothing
    assert single.loc[0.6] == 0
    assert single.loc[0.7] == pytest.approx(0.25)
    assert single.loc[1.1] == pytest.approx(0.25)
    assert single.loc[1.2] == pytest.approx(0.5)
    assert set(curve["contracts"][curve.structure == "single"]) == {4}
    assert len(ms) == 21  # 0, 0.1 ... 2.0


def test_cash_curve_leaves_out_contracts_paid_on_an_unknown_date(con, tmp_path):
    """D1 paid in full on day 5 of 10; T1 paid in full too, but through a contract-level paid_total
    (no date). Counted, T1 would pull the single-payment curve to half at every point, as if never paid."""
    from analysis.importing import import_files

    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,budget,start_date,planned_end_date,end_date,status,paid_total\n"
                         "D1,100,2026-01-01,2026-01-11,2026-01-11,completed,\n"
                         "T1,200,2026-01-01,2026-01-11,2026-01-11,completed,200\n")
    milestones = tmp_path / "milestones.csv"
    milestones.write_text("contract_id,seq,amount,paid_date\nD1,1,100,2026-01-06\n")
    import_files(con, [contracts, milestones])
    curve = timing.cash_curve(con, Filters()).set_index("fraction_elapsed")
    assert set(curve["contracts"]) == {1}
    assert curve.loc[0.4, "share_received"] == 0 and curve.loc[0.5, "share_received"] == 1.0
    assert timing.cash_curve_left_out(con, Filters()).values.tolist() == [["single", 1]]


def test_ageing_of_submitted_unpaid_work(fixture_con):
    ageing = timing.ageing(fixture_con, Filters(), dt.date(2026, 3, 31))
    # M4 milestone 2 submitted 03-10 (21 days), M3 milestone 2 submitted 02-07 (52 days)
    assert list(ageing["currency"].unique()) == ["USD"]
    got = ageing.set_index("bucket")
    assert got.loc["0–30 days", "items"] == 1 and got.loc["0–30 days", "amount"] == 100
    assert got.loc["31–60 days", "items"] == 1 and got.loc["31–60 days", "amount"] == 100
    assert got.loc["61–90 days", "items"] == 0 and got.loc["over 90 days", "amount"] == 0
    later = timing.ageing(fixture_con, Filters(), dt.date(2026, 5, 10)).set_index("bucket")
    assert later.loc["61–90 days", "items"] == 1 and later.loc["over 90 days", "items"] == 1
    # On the bucket edges (2026 is not a leap year: February has 28 days):
    # 04-09: M4 03-10 + 30 days, M3 02-07 + 61 days
    edge = timing.ageing(fixture_con, Filters(), dt.date(2026, 4, 9)).set_index("bucket")["items"].to_dict()
    assert edge == {"0–30 days": 1, "31–60 days": 0, "61–90 days": 1, "over 90 days": 0}
    # 05-08: M4 59 days, M3 exactly 90; 05-09: M4 exactly 60, M3 91
    edge = timing.ageing(fixture_con, Filters(), dt.date(2026, 5, 8)).set_index("bucket")["items"].to_dict()
    assert edge == {"0–30 days": 0, "31–60 days": 1, "61–90 days": 1, "over 90 days": 0}
    edge = timing.ageing(fixture_con, Filters(), dt.date(2026, 5, 9)).set_index("bucket")["items"].to_dict()
    assert edge == {"0–30 days": 0, "31–60 days": 1, "61–90 days": 0, "over 90 days": 1}


#: A tiny history around the as-of date 2026-03-10, some of it before and some after (USD, fees given):
#: A direct, paid 100 on 03-01; B Upwork, milestone 1 100 (fee 10) submitted 03-05 paid 03-08 (withdrawable
#: 03-13), milestone 2 200 (fee 20) submitted 03-09 paid 03-12 (withdrawable 03-17); C direct, 50 submitted
#: 03-20 paid 03-21; D direct, milestone 1 40 submitted 01-01 never paid, milestone 2 60 submitted 02-01 paid
#: 04-01; E direct, 70 submitted 03-15, not paid.
AS_OF = dt.date(2026, 3, 10)
AS_OF_CONTRACTS = [
    {"contract_id": "A", "budget": "100", "start_date": "2026-02-20", "end_date": "2026-03-01", "status": "completed"},
    {"contract_id": "B", "platform": "upwork", "budget": "300", "start_date": "2026-03-01", "status": "active"},
    {"contract_id": "C", "budget": "50", "start_date": "2026-03-15", "end_date": "2026-03-21", "status": "completed"},
    {"contract_id": "D", "budget": "100", "start_date": "2025-12-15", "status": "active"},
    {"contract_id": "E", "budget": "70", "start_date": "2026-03-11", "status": "active"},
]
AS_OF_MILESTONES = [
    {"contract_id": "A", "seq": "1", "amount": "100", "submitted_date": "2026-03-01", "paid_date": "2026-03-01", "fee": "0"},
    {"contract_id": "B", "seq": "1", "amount": "100", "submitted_date": "2026-03-05", "paid_date": "2026-03-08", "fee": "10"},
    {"contract_id": "B", "seq": "2", "amount": "200", "submitted_date": "2026-03-09", "paid_date": "2026-03-12", "fee": "20"},
    {"contract_id": "C", "seq": "1", "amount": "50", "submitted_date": "2026-03-20", "paid_date": "2026-03-21", "fee": "0"},
    {"contract_id": "D", "seq": "1", "amount": "40", "submitted_date": "2026-01-01"},
    {"contract_id": "D", "seq": "2", "amount": "60", "submitted_date": "2026-02-01", "paid_date": "2026-04-01", "fee": "0"},
    {"contract_id": "E", "seq": "1", "amount": "70", "submitted_date": "2026-03-15"},
]


@pytest.fixture
def as_of_con(con, tmp_path):
    import_rows(con, tmp_path, AS_OF_CONTRACTS, AS_OF_MILESTONES)
    return con


def test_withdrawable_money_as_of_a_past_date_counts_only_what_was_paid_by_then(as_of_con):
    """On 03-10 only A (100, withdrawable at once) and B's first milestone (net 90, on hold until 03-13) had
    been paid: B's second milestone (03-12), C (03-21) and D's second milestone (04-01) were not money yet,
    so neither withdrawable nor on hold (counted, on hold would have been 90 + 180 + 50 + 60 = 380)."""
    pos = timing.withdrawable_position(as_of_con, Filters(), AS_OF).set_index("currency").loc["USD"]
    assert (pos["paid"], pos["withdrawable"], pos["on_hold"]) == pytest.approx((190, 100, 90))
    assert pos["next_release"].date() == dt.date(2026, 3, 13)
    # 04-30, after everything: 100 + 90 + 180 + 50 + 60 = 480, all of it cleared (B's last hold ended 03-17).
    pos = timing.withdrawable_position(as_of_con, Filters(), dt.date(2026, 4, 30)).set_index("currency").loc["USD"]
    assert (pos["paid"], pos["withdrawable"], pos["on_hold"]) == pytest.approx((480, 480, 0))
    assert pd.isna(pos["next_release"])


def test_ageing_as_of_a_past_date_counts_work_handed_in_by_then_and_unpaid_on_that_day(as_of_con):
    """On 03-10: B's milestone 2 (200, submitted 03-09, paid only on 03-12) had waited 1 day; D's milestone 2
    (60, submitted 02-01, paid 04-01) 27 + 10 = 37 days; D's milestone 1 (40, submitted 01-01, never paid)
    30 + 28 + 10 = 68 days. E (submitted 03-15) and C (03-20) were not handed in yet: not 0 days old."""
    got = timing.ageing(as_of_con, Filters(), AS_OF).set_index("bucket")[["items", "amount"]]
    assert got.to_dict("index") == {"0–30 days": {"items": 1, "amount": 200.0}, "31–60 days": {"items": 1, "amount": 60.0},
                                    "61–90 days": {"items": 1, "amount": 40.0}, "over 90 days": {"items": 0, "amount": 0.0}}
    # 04-30: D's milestone 2 is paid; milestone 1 has waited 30 + 28 + 31 + 30 = 119 days; E 46 days.
    got = timing.ageing(as_of_con, Filters(), dt.date(2026, 4, 30)).set_index("bucket")[["items", "amount"]]
    assert got.to_dict("index") == {"0–30 days": {"items": 0, "amount": 0.0}, "31–60 days": {"items": 1, "amount": 70.0},
                                    "61–90 days": {"items": 0, "amount": 0.0}, "over 90 days": {"items": 1, "amount": 40.0}}


def test_empty_workspace_gives_every_measure_with_no_data(con):
    summary = timing.timing_summary(con, Filters())
    assert len(summary) == len(timing.MEASURES) * 3 and (summary["n"] == 0).all()
    assert timing.cash_curve(con, Filters()).empty
    assert timing.ageing(con, Filters(), dt.date(2026, 1, 1)).empty
    assert timing.withdrawable_position(con, Filters(), dt.date(2026, 1, 1)).empty


def test_only_asked_measures_are_computed(fixture_con):
    s = timing.timing_summary(fixture_con, USD, ("submission_to_payment",))
    assert set(s["measure"]) == {"submission_to_payment"}
    with pytest.raises(ValueError):
        timing.timing_summary(fixture_con, USD, ("nonsense",))


def test_fiverr_clearance_and_freelancer_release(con, tmp_path):
    import_rows(con, tmp_path, [
        {"contract_id": "F", "platform": "fiverr", "budget": "100", "start_date": "2026-01-01", "status": "completed",
         "end_date": "2026-01-05"},
        {"contract_id": "L", "platform": "freelancer", "budget": "100", "start_date": "2026-01-01", "status": "completed",
         "end_date": "2026-01-05"},
    ], [
        {"contract_id": "F", "seq": "1", "amount": "100", "submitted_date": "2026-01-04", "paid_date": "2026-01-07"},
        {"contract_id": "L", "seq": "1", "amount": "100", "submitted_date": "2026-01-04", "paid_date": "2026-01-07"},
    ])
    fiverr = medians(con, Filters(platform="fiverr")).loc[("submission_to_withdrawable", "single"), "median"]
    freelancer = medians(con, Filters(platform="freelancer")).loc[("submission_to_withdrawable", "single"), "median"]
    assert fiverr == 3 + 14 and freelancer == 3


def test_a_payment_before_the_start_is_counted_and_said(con, tmp_path):
    """B1 starts 2024-02-01 but was paid 2024-01-01 (31 days earlier): kept as imported, its
    days from the start are -31, and the report names how many contracts look like that."""
    from analysis.filters import prepared
    from analysis.report import build_report

    import_rows(con, tmp_path, [
        {"contract_id": "B1", "budget": "100", "start_date": "2024-02-01", "end_date": "2024-02-05", "status": "completed"},
        {"contract_id": "B2", "budget": "100", "start_date": "2024-02-01", "end_date": "2024-02-05", "status": "completed"},
    ], [{"contract_id": "B1", "seq": "1", "amount": "100", "paid_date": "2024-01-01"},
        {"contract_id": "B2", "seq": "1", "amount": "100", "paid_date": "2024-02-03"}])
    with prepared(con):
        assert timing.paid_before_start(con, Filters()) == 1
        assert timing.paid_before_start(con, Filters(client="nobody")) == 0
        single = medians(con, Filters()).loc[("start_to_first_payment", "single")]
    assert (single["n"], single["median"]) == (2, (-31 + 2) / 2)
    assert ("1 contract has a payment dated before the start date (negative days from the start): check those dates"
            in build_report(con).notes)


def test_compare_days_by_hand(con, tmp_path):
    """First payment after 1–5 days (milestones) against 3–8 days (single): of the 30 pairs the
    milestone contract is sooner in 24 and level in 3, so 25.5 / 30 = 0.85; scipy's Brunner–Munzel
    p-value is the second method. Fewer than 30 a side: no clear difference is called."""
    from scipy.stats import brunnermunzel

    rows, milestones = [], []
    for i, d in enumerate([1, 2, 3, 4, 5]):
        rows.append({"contract_id": f"M{i}", "status": "completed", "budget": "100", "start_date": "2026-01-01"})
        milestones += [{"contract_id": f"M{i}", "seq": "1", "amount": "50", "paid_date": f"2026-01-{1 + d:02d}"},
                       {"contract_id": f"M{i}", "seq": "2", "amount": "50", "paid_date": "2026-01-20"}]
    for i, d in enumerate([3, 4, 5, 6, 7, 8]):
        rows.append({"contract_id": f"S{i}", "status": "completed", "budget": "100", "start_date": "2026-01-01"})
        milestones.append({"contract_id": f"S{i}", "seq": "1", "amount": "100", "paid_date": f"2026-01-{1 + d:02d}"})
    import_rows(con, tmp_path, rows, milestones)
    result = timing.compare_days(con, Filters())
    assert (result.a_n, result.b_n) == (5, 6)
    assert result.prob_a_sooner == pytest.approx(0.85)
    assert result.p_value == pytest.approx(brunnermunzel([1, 2, 3, 4, 5], [3, 4, 5, 6, 7, 8]).pvalue)
    assert result.ci[0] < 0.85 < result.ci[1]
    assert not result.clear_difference  # p is small, but 5 and 6 contracts are too few to conclude
    # Nothing to test: no single-payment contract.
    assert timing.compare_days(con, Filters(client=("nobody",))).p_value is None


def test_compare_days_when_the_two_never_overlap_or_one_side_is_empty(con, tmp_path):
    """Every milestone contract paid (days 2–4) before any single one (days 20–24): Brunner–Munzel's variance
    is 0 and it gave no answer, so the clearest result was dropped. Mann–Whitney (scipy, the second method is
    the same call written out here) gives the p-value; the share is 1. 32 a side, so it is called clear."""
    from scipy.stats import mannwhitneyu

    rows, milestones = [], []
    for i in range(32):
        m_day, s_day = 2 + i % 3, 20 + i % 5
        rows.append({"contract_id": f"M{i}", "status": "completed", "budget": "100", "start_date": "2026-01-01"})
        milestones += [{"contract_id": f"M{i}", "seq": "1", "amount": "50", "paid_date": f"2026-01-{1 + m_day:02d}"},
                       {"contract_id": f"M{i}", "seq": "2", "amount": "50", "paid_date": "2026-02-20"}]
        rows.append({"contract_id": f"S{i}", "status": "completed", "budget": "100", "start_date": "2026-01-01"})
        milestones.append({"contract_id": f"S{i}", "seq": "1", "amount": "100", "paid_date": f"2026-01-{1 + s_day:02d}"})
    import_rows(con, tmp_path, rows, milestones)
    result = timing.compare_days(con, Filters())
    x, y = [2 + i % 3 for i in range(32)], [20 + i % 5 for i in range(32)]
    assert (result.prob_a_sooner, result.ci) == (1.0, None)
    assert result.p_value == pytest.approx(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    assert result.clear_difference and "Mann–Whitney" in result.test_method
    assert "first in 100 % of pairs" in timing.first_money_sentence(result)
    # One side empty (no hourly contract here): nothing to test, and nothing said.
    only = timing.compare_days(con, Filters(), a="milestones", b="hourly")
    assert (only.a_n, only.b_n, only.p_value) == (32, 0, None)
    assert timing.first_money_sentence(only) is None
