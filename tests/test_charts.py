"""Plotly figure builders: the numbers plotted are the analysis numbers; imported text is inert."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import pytest

from analysis import cancellation, earnings, exposure, timing
from analysis.filters import Filters, prepared
from dashboard import charts
from tests.fixtures.analysis.helpers import import_fixture
from tests.stats_by_hand import wilson_by_hand

USD = Filters(currency="USD")
TODAY = dt.date(2026, 3, 31)


@pytest.fixture
def frames(con):
    import_fixture(con)
    with prepared(con):
        survival = cancellation.survival_data(con, USD, TODAY)
        return {
            "rates": cancellation.rates_by_structure(con, USD),
            "breakdowns": cancellation.breakdowns(con, USD),
            "incidence": cancellation.cumulative_incidence(survival),
            "cash": timing.cash_curve(con, USD),
            "timing": timing.timing_summary(con, USD),
            "ageing": timing.ageing(con, USD, TODAY),
            "months": earnings.months(con, USD),
            "exposure_client": exposure.exposure(con, USD, by="client"),
        }


def bar_by_x(fig: go.Figure, trace: int = 0) -> dict:
    t = fig.data[trace]
    return dict(zip(t.x, t.y))


def test_cancellation_rates_bars_and_wilson_error_bars(frames):
    fig = charts.cancellation_rates(frames["rates"])
    heights = bar_by_x(fig)
    assert heights["Milestones"] == pytest.approx(200 / 3)
    assert heights["Single payment"] == pytest.approx(50)
    # error bars reach the Wilson bounds worked out by hand: milestones 2 of 3, single 2 of 4, hourly 0 of 1
    t = fig.data[0]
    bounds = [wilson_by_hand(2, 3), wilson_by_hand(2, 4), wilson_by_hand(0, 1)]
    assert list(t.error_y.array) == pytest.approx([(high - p) * 100 for (_, high), p in zip(bounds, (2 / 3, 0.5, 0))])
    assert list(t.error_y.arrayminus) == pytest.approx([(p - low) * 100 for (low, _), p in zip(bounds, (2 / 3, 0.5, 0))])
    # the counts under the bars (above them the whiskers ran through the labels)
    assert list(fig.layout.xaxis.ticktext) == ["Milestones<br>2 of 3 cancelled", "Single payment<br>2 of 4 cancelled",
                                                "Hourly<br>0 of 1 cancelled"]
    assert list(t.customdata) == ["2 of 3", "2 of 4", "0 of 1"]
    assert list(t.marker.pattern.shape) == ["/", "/", "/"]  # small samples marked


def test_groups_without_finished_contracts_are_not_drawn(frames):
    rates = frames["rates"].copy()
    rates.loc[rates.structure == "hourly", ["finished", "cancelled"]] = 0
    assert list(charts.cancellation_rates(rates).data[0].x) == ["Milestones", "Single payment"]
    empty = charts.cancellation_rates(rates.assign(finished=0))
    assert len(empty.data) == 0 and "No finished contracts" in empty.layout.annotations[0].text


def test_breakdown_chart_one_trace_per_structure_in_band_order(frames):
    fig = charts.breakdown_rates(frames["breakdowns"], "budget_band")
    bars = [t for t in fig.data if list(t.x) != [None]]
    # milestones, single, hourly in every breakdown; the legend's entries are solid, one more says what hatching is
    assert [t.name for t in bars] == ["Milestones", "Single payment", "Hourly"]
    legend = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in legend] == ["Milestones", "Single payment", "Hourly", "hatched: under 30 finished"]
    assert all(not t.marker.pattern.shape for t in legend[:3])
    assert all(t.offsetgroup == b.offsetgroup for t, b in zip(legend[:3], bars))  # no empty slot beside the bars
    single = next(t for t in bars if t.name == "Single payment")
    assert list(single.x) == ["under 100", "100–499"]  # S3/S5 under 100; S1, S2 100–499
    assert list(single.y) == pytest.approx([50, 50])
    assert list(fig.layout.xaxis.categoryarray)[:2] == ["under 100", "100–499"]


def test_not_cancelled_curves_start_at_one_and_step_down_by_the_incidence(frames):
    fig = charts.not_cancelled_curves(frames["incidence"], "days")
    lines = [t for t in fig.data if t.mode == "lines"]
    milestones = next(t for t in lines if t.name == "Milestones")
    # 1/4 cancelled by day 5, 1/2 by day 7 (M1's completion on day 5 is an outcome, not censoring)
    assert list(milestones.x) == [0.0, 5.0, 7.0, 30.0]
    assert list(milestones.y) == pytest.approx([1.0, 0.75, 0.5, 0.5])
    assert milestones.line.shape == "hv"
    assert len(fig.data) == 2 * frames["incidence"]["structure"].nunique()  # a band and a line each
    band = next(t for t in fig.data if t.fill == "toself" and t.line.color is None and t.fillcolor == milestones.line.color)
    assert all(0 <= y <= 1 for y in band.y)
    assert "share of planned duration" in charts.not_cancelled_curves(frames["incidence"], "fraction").layout.xaxis.title.text


def test_incidence_cash_timing_months_ageing(frames):
    inc = charts.cumulative_incidence(frames["incidence"])
    cancelled = next(t for t in inc.data if t.name == "Milestones — cancelled")
    # events on days 5 and 7; M4 is censored (still active) on day 30
    assert list(cancelled.x) == [5.0, 7.0, 30.0]
    assert list(cancelled.y) == pytest.approx([0.25, 0.5, 0.5])
    cash = charts.cash_curve(frames["cash"])
    ms = next(t for t in cash.data if t.name == "Milestones")
    assert dict(zip(ms.x, ms.y))[1.0] == pytest.approx(0.6)
    tm = charts.timing_medians(frames["timing"])
    single = next(t for t in tm.data if t.name == "Single payment")
    assert dict(zip(single.y, single.x))[timing.MEASURES["start_to_first_payment"]] == 7
    months = charts.earnings_by_month(frames["months"], "USD")
    assert bar_by_x(months, 0)["2026-01"] == 800 - 80  # net
    assert bar_by_x(months, 1)["2026-01"] == 80  # fees
    # Labelled as months: a single month was "00:00:00 / Sep 1, 2022" under an instant's axis.
    assert (months.layout.xaxis.tickformat, months.layout.xaxis.dtick) == ("%b %Y", "M1")
    ageing = charts.ageing(frames["ageing"], "USD")
    assert bar_by_x(ageing) == {"0–30 days": 100, "31–60 days": 100, "61–90 days": 0, "over 90 days": 0}


def test_exposure_chart_stacks_funded_and_unfunded(frames):
    fig = charts.exposure_by(frames["exposure_client"], "client", "USD")
    funded, unfunded, loss = fig.data
    assert dict(zip(funded.y, funded.x)) == {"Beta": 500, "Gamma": 200}
    assert dict(zip(unfunded.y, unfunded.x)) == {"Beta": 0, "Gamma": 100}
    assert dict(zip(loss.y, loss.x)) == {"Beta": 250, "Gamma": 150}


def test_imported_labels_are_escaped():
    df = pd.DataFrame({"currency": ["USD"], "client": ['<a href="javascript:alert(1)">x</a>'], "remaining": [10.0],
                       "funded": [5.0], "unfunded": [5.0], "expected_loss": [1.0]})
    fig = charts.exposure_by(df, "client", "USD")
    assert fig.data[0].y[0] == "&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;"
    assert "<a href" not in fig.to_json()


def test_every_builder_handles_empty_frames():
    empty = pd.DataFrame(columns=["structure", "finished", "cancelled", "cancellation_rate", "ci_low", "ci_high",
                                  "small_sample", "dimension", "group", "group_order", "time", "survival",
                                  "currency", "month", "bucket", "bucket_order", "items", "amount", "remaining",
                                  "measure", "n", "median", "p25", "p75"])
    figures = [
        charts.cancellation_rates(empty), charts.breakdown_rates(empty, "category"), charts.not_cancelled_curves(empty),
        charts.cumulative_incidence(empty), charts.cash_curve(empty), charts.timing_medians(empty),
        charts.earnings_by_month(empty, "USD"), charts.ageing(empty, "USD"), charts.exposure_by(empty, "client", "USD"),
    ]
    for fig in figures:
        assert isinstance(fig, go.Figure) and len(fig.data) == 0
        assert fig.layout.annotations and fig.layout.annotations[0].text
        fig.to_json()  # valid for plotly.js


def test_exposure_chart_lists_groups_as_the_table_does():
    """By expected loss, then remaining, then name (the table's ORDER BY): the chart once went by remaining value
    alone, so a freelancer was third in one and fifth in the other. B and D tie at 60: D has more to be paid."""
    df = pd.DataFrame({"currency": ["USD"] * 4, "client": ["A", "B", "C", "D"], "remaining": [900.0, 100.0, 500.0, 300.0],
                       "funded": [900.0, 0.0, 0.0, 300.0], "unfunded": [0.0, 100.0, 500.0, 0.0],
                       "expected_loss": [10.0, 60.0, 40.0, 60.0]})
    assert list(charts.exposure_by(df, "client", "USD").data[0].y) == ["D", "B", "C", "A"]


def test_exposure_chart_ranks_an_unknown_expected_loss_as_0_then_by_remaining():
    """With no finished history the expected loss is unknown (NaN): the chart drew the groups by name, so its 15
    bars left out the largest sums still to be paid. Known losses first (E 5), then by remaining: F 950 (its expected
    loss 0 ranks with the unknown ones), A 900, C 500, B 300 and D 300 (a tie: by name)."""
    df = pd.DataFrame({"currency": ["USD"] * 6, "client": ["A", "B", "C", "D", "E", "F"],
                       "remaining": [900.0, 300.0, 500.0, 300.0, 50.0, 950.0], "funded": [0.0] * 6,
                       "unfunded": [900.0, 300.0, 500.0, 300.0, 50.0, 950.0],
                       "expected_loss": [None, None, None, None, 5.0, 0.0]})
    assert list(charts.exposure_by(df, "client", "USD").data[0].y) == ["E", "F", "A", "C", "B", "D"]
    assert list(charts.exposure_by(df, "client", "USD", top=3).data[0].y) == ["E", "F", "A"]


def test_a_distribution_of_few_days_has_whole_day_ticks():
    """One interval of 0 days was drawn on a -0.4 … 0.4 axis; a spread over weeks keeps Plotly's own axis."""
    one = pd.DataFrame({"structure": ["milestones"], "days": [0], "open_ended": [False], "n": [1], "share": [1.0]})
    axis = charts.lag_distribution(one, "Submission → payment").layout.xaxis
    assert (axis.dtick, tuple(axis.range)) == (1, (-0.5, 4.5))
    wide = pd.DataFrame({"structure": ["single"] * 2, "days": [3, 30], "open_ended": [False, True], "n": [5, 5],
                         "share": [0.5, 0.5]})
    axis = charts.lag_distribution(wide, "Submission → payment").layout.xaxis
    assert axis.dtick is None and axis.range is None
