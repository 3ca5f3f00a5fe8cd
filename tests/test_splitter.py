"""The what-if splitter model: the seed example, hand-computed expectations, fees, refusals,
the recommendation, calibration on a workspace whose answer is known, and the chart builders."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from analysis import splitter as sp
from analysis import store
from analysis.errors import UserError
from analysis.importing import import_files

DIRECT = sp.platform_terms("direct")
UPWORK = sp.platform_terms("upwork")


# --- the seed example from SPEC.md ------------------------------------------------------------

def test_seed_example_five_milestones_of_thirty():
    plan = sp.make_plan(150, 5, milestones=5, terms=UPWORK)
    assert plan.amounts == [30.0] * 5
    assert [m.amount_cents for m in plan.milestones] == [3000] * 5
    assert [m.due_day for m in plan.milestones] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [m.start_day for m in plan.milestones] == [0.0, 1.0, 2.0, 3.0, 4.0]
    c = sp.compare(plan, UPWORK, sp.make_risk(0.3))
    assert c.plan_outcome.max_loss == 30.0
    assert c.single_outcome.max_loss == 150.0
    # Upwork: withdrawable 14 review + 5 hold days after each due day.
    assert c.plan_outcome.milestones["expected_release_day"].tolist() == [20.0, 21.0, 22.0, 23.0, 24.0]


def test_seed_story_cancel_on_day_three_keeps_sixty():
    """SPEC's story: cancelled on day 3 before its submission, the writer keeps the 60 of days 1-2;
    with a single payment, nothing. P(that) = S(2) - S(3) under a constant hazard with P = 0.3."""
    plan = sp.make_plan(150, 5, milestones=5)
    risk = sp.make_risk(0.3)
    dist = sp.evaluate(plan, DIRECT, risk).distribution.set_index("paid_milestones")
    assert dist.loc[2, "gross"] == 60.0
    assert dist.loc[2, "probability"] == pytest.approx(0.7 ** 0.4 - 0.7 ** 0.6)
    single = sp.evaluate(sp.single_payment(150, 5), DIRECT, risk).distribution
    assert single["gross"].tolist() == [0.0, 150.0]
    assert single["probability"].tolist() == pytest.approx([0.3, 0.7])


# --- hand-computed expectations for a constant hazard -----------------------------------------
# Budget 100 over 4 days in two milestones of 50 due on days 2 and 4, P = 0.19 of cancelling
# before the end with a constant hazard: S(t) = 0.81 ** (t / 4), so S(2) = 0.9 and S(4) = 0.81.

def test_constant_hazard_two_milestones_by_hand():
    plan = sp.make_plan(100, 4, milestones=2)
    out = sp.evaluate(plan, DIRECT, sp.make_risk(0.19, "constant"))
    assert out.milestones["prob_paid"].tolist() == pytest.approx([0.9, 0.81])
    assert out.expected_gross == pytest.approx(50 * 0.9 + 50 * 0.81)  # 85.5
    assert out.expected_net == pytest.approx(85.5)
    assert out.prob_paid_nothing == pytest.approx(0.1)
    assert out.prob_paid_in_full == pytest.approx(0.81)
    assert out.max_loss == 50.0
    dist = out.distribution
    assert dist["gross"].tolist() == [0.0, 50.0, 100.0]
    assert dist["probability"].tolist() == pytest.approx([0.1, 0.09, 0.81])
    single = sp.evaluate(sp.single_payment(100, 4), DIRECT, sp.make_risk(0.19))
    assert single.expected_net == pytest.approx(81.0)
    assert single.prob_paid_nothing == pytest.approx(0.19)
    assert single.max_loss == 100.0


def test_without_escrow_handed_in_work_is_at_stake_until_the_client_pays():
    """A direct client pays 1 day after each hand-in (no escrow): 2 × 50 over 4 days are due on days 2 and 4 and
    paid on days 3 and 5, so each is paid with S(3) = 0.81 ** 0.75 = 0.9 ** 1.5 and S(5) = 0.9 ** 2.5. Just before
    day 3 the first 50 is handed in but unpaid and half of the second is done: 75 at stake."""
    terms = sp.platform_terms("direct", review_days=1)
    out = sp.evaluate(sp.make_plan(100, 4, milestones=2), terms, sp.make_risk(0.19))
    assert out.milestones["prob_paid"].tolist() == pytest.approx([0.853815, 0.768433], abs=1e-6)
    assert out.expected_gross == pytest.approx(50 * 0.9 ** 1.5 + 50 * 0.9 ** 2.5)
    assert out.prob_paid_nothing == pytest.approx(1 - 0.9 ** 1.5)
    assert out.prob_paid_in_full == pytest.approx(0.9 ** 2.5)
    assert out.max_loss == 75.0
    curve = out.exposure_curve
    assert curve.loc[curve["day"] == 3.0, "exposure"].tolist() == [75.0, 25.0]  # just before, and at, the payment
    assert curve.loc[curve["day"] == 5.0, "exposure"].tolist() == [50.0, 0.0]
    cash = out.cash_curve.set_index("day")
    assert cash.loc[3.0, "expected_secured_gross"] == pytest.approx(50 * 0.9 ** 1.5)  # secured when paid, not handed in
    single = sp.evaluate(sp.single_payment(100, 4), terms, sp.make_risk(0.19))
    assert single.prob_paid_nothing == pytest.approx(1 - 0.9 ** 2.5) and single.max_loss == 100.0


def test_auditors_direct_client_paying_ten_days_after_each_hand_in():
    """150 over 5 days in 5 × 30, paid 10 days after each hand-in: the first payment comes on day 11, so on day 5
    all 150 is handed in and unpaid. Milestone i is paid with S(i + 10) = 0.9 ** ((i + 10) / 5)."""
    terms = sp.platform_terms("direct", review_days=10)
    c = sp.compare(sp.make_plan(150, 5, milestones=5), terms, sp.make_risk(0.1))
    assert c.plan_outcome.max_loss == 150.0 and c.single_outcome.max_loss == 150.0
    paid = [0.9 ** ((i + 10) / 5) for i in range(1, 6)]
    assert c.plan_outcome.milestones["prob_paid"].tolist() == pytest.approx(paid)
    assert c.plan_outcome.expected_net == pytest.approx(30 * sum(paid))  # 114.11, not 140.87
    assert c.single_outcome.expected_net == pytest.approx(150 * 0.9 ** 3)  # 109.35
    # Escrow (Upwork, 14 days to review) is unchanged: handed-in work is paid from escrow.
    up = sp.compare(sp.make_plan(150, 5, milestones=5), UPWORK, sp.make_risk(0.1))
    assert up.plan_outcome.max_loss == 30.0
    assert up.plan_outcome.milestones["prob_paid"].tolist() == pytest.approx([0.9 ** (i / 5) for i in range(1, 6)])


def test_without_escrow_the_recommendation_counts_unpaid_hand_ins():
    """150 over 50 days, a direct client paying 3 days after a hand-in, limit 37.50 (25 %). 4 × 37.50 (12.5 days
    each): just before the first payment (day 15.5) 37.50 handed in + 3/12.5 of the next = 46.50. 5 × 30 (10
    days): 30 + 3/10 × 30 = 39.00. 6 × 25 (8 1/3 days): 25 + 3/(25/3) × 25 = 34.00, the first within the limit."""
    terms = sp.platform_terms("direct", review_days=3)
    rec = sp.recommend(150, 50, terms, sp.make_risk(0.1))
    assert rec.milestones == 6
    assert rec.table.set_index("milestones").loc[[4, 5, 6], "max_loss"].tolist() == [46.5, 39.0, 34.0]
    assert "34.00" in rec.reason
    never = sp.recommend(150, 5, sp.platform_terms("direct", review_days=10), sp.make_risk(0.1))
    assert never.milestones is None and "handed-in work stays unpaid" in never.reason


def test_constant_hazard_is_constant():
    risk = sp.make_risk(0.19, "constant")
    s = risk.survival(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), 4)
    ratios = s[1:] / s[:-1]
    assert ratios == pytest.approx([0.81 ** 0.25] * 4)
    assert s[-1] == pytest.approx(0.81)


def test_fees_and_timing_on_upwork_by_hand():
    """10 % fee; releases on days 2+19 = 21 and 4+19 = 23, weighted by expected gross 45 and 40.5."""
    plan = sp.make_plan(100, 4, milestones=2)
    out = sp.evaluate(plan, UPWORK, sp.make_risk(0.19))
    assert out.expected_fees == pytest.approx(8.55)
    assert out.expected_net == pytest.approx(76.95)
    assert out.expected_days_to_cash == pytest.approx((45 * 21 + 40.5 * 23) / 85.5)  # 21.947...
    assert out.days_to_first_cash == 21.0
    curve = out.cash_curve

    def at(day, column):  # the step function's value on ``day``
        return curve.loc[curve["day"] <= day, column].iloc[-1]

    assert at(20.9, "expected_cash") == 0.0
    assert at(21.0, "expected_cash") == pytest.approx(0.9 * 45)  # the first milestone's 45 net, paid with P 0.9
    assert at(22.5, "expected_cash") == pytest.approx(40.5)
    assert at(23.0, "expected_cash") == pytest.approx(76.95)
    assert at(1.9, "expected_secured_gross") == 0.0
    assert at(2.0, "expected_secured_gross") == pytest.approx(45.0)
    single = sp.evaluate(sp.single_payment(100, 4), UPWORK, sp.make_risk(0.19))
    assert single.expected_days_to_cash == 23.0
    assert single.expected_net == pytest.approx(72.9)


def test_back_and_front_heavy_by_hand():
    plan = sp.make_plan(100, 4, milestones=2)
    back = sp.evaluate(plan, DIRECT, sp.make_risk(0.19, "back-heavy"))  # S(2) = 0.81 ** 0.25 = 0.9 ** 0.5
    assert back.prob_paid_nothing == pytest.approx(1 - math.sqrt(0.9))
    front = sp.evaluate(plan, DIRECT, sp.make_risk(0.19, "front-heavy"))  # S(2) = 0.81 ** sqrt(0.5)
    assert front.prob_paid_nothing == pytest.approx(1 - 0.81 ** math.sqrt(0.5))
    assert front.prob_paid_nothing > 0.1 > back.prob_paid_nothing


def test_simulation_agrees_with_the_exact_distribution():
    """A second method: draw cancellation times by inverting S and count milestones submitted before."""
    plan = sp.make_plan(1000, 30, amounts=[100, 250, 300, 350], due_days=[3, 10, 20, 30])
    risk = sp.make_risk(0.35, 1.7)
    exact = sp.evaluate(plan, DIRECT, risk)
    rng = np.random.default_rng(20240501)
    u = rng.random(400_000)
    cancel_time = 30 * (np.log(u) / math.log(1 - 0.35)) ** (1 / 1.7)  # S(T) = u
    due = np.array([3, 10, 20, 30])
    paid = (due[None, :] < cancel_time[:, None]).sum(axis=1)
    freq = np.bincount(paid, minlength=5) / len(u)
    assert freq == pytest.approx(exact.distribution["probability"].to_numpy(), abs=0.004)
    gross = np.concatenate([[0], np.cumsum([100, 250, 300, 350])])[paid]
    se = gross.std() / math.sqrt(len(u))
    assert abs(gross.mean() - exact.expected_gross) < 4 * se


def test_certain_immediate_cancellation():
    out = sp.evaluate(sp.make_plan(100, 4, milestones=4), UPWORK, sp.make_risk(1.0))
    assert out.prob_paid_nothing == 1.0
    assert out.expected_net == 0.0
    assert out.expected_days_to_cash is None
    assert out.days_to_first_cash is None  # "days to first cash 20" beside "paid nothing: 100 %" contradicted it


def test_no_risk_pays_everything_once():
    out = sp.evaluate(sp.make_plan(100, 4, milestones=4), DIRECT, sp.make_risk(0.0))
    assert out.expected_net == 100.0
    assert out.distribution["probability"].tolist() == [0, 0, 0, 0, 1]


def test_waiting_between_milestones_stretches_the_exposure():
    """Two 50s over 4 working days with a 2-day wait: due on days 2 and 6; S(6) = 0.81 ** 1.5 = 0.729."""
    plan = sp.make_plan(100, 4, milestones=2, wait_days=2)
    assert [(m.start_day, m.due_day) for m in plan.milestones] == [(0.0, 2.0), (4.0, 6.0)]
    out = sp.evaluate(plan, DIRECT, sp.make_risk(0.19))
    assert out.expected_gross == pytest.approx(50 * 0.9 + 50 * 0.729)


# --- fees -----------------------------------------------------------------------------------

def test_sliding_fee_counts_what_was_billed_before():
    terms = sp.platform_terms("upwork-2016")
    plan = sp.make_plan(1000, 10, milestones=2)
    fees = sp.milestone_fees(plan, terms)
    assert fees.tolist() == [100.0, 50.0]  # first 500 at 20 %, next 500 at 10 %
    assert sp.milestone_fees(plan, terms, billed_before=400).tolist() == [60.0, 50.0]  # 100×20 % + 400×10 %
    single = sp.evaluate(sp.single_payment(1000, 10), terms, sp.make_risk(0))
    assert single.expected_fees == 150.0


def test_days_to_cash_are_weighted_by_gross_not_net():
    """Sliding fee: two 500s due on days 5 and 10, released 14 + 5 days later (days 24 and 29);
    fees 100 (first 500 at 20 %) and 50 (next 500 at 10 %), so net 400 and 450. Weighted by the
    gross paid: (500 × 24 + 500 × 29) / 1000 = 26.5 (by net it would be 22650 / 850 = 26.65)."""
    terms = sp.platform_terms("upwork-2016")
    out = sp.evaluate(sp.make_plan(1000, 10, milestones=2), terms, sp.make_risk(0))
    assert out.milestones["expected_release_day"].tolist() == [24.0, 29.0]
    assert out.milestones["fee"].tolist() == [100.0, 50.0]
    assert out.expected_days_to_cash == pytest.approx(26.5)


def test_freelancer_minimum_fee_makes_small_milestones_cost_more():
    terms = sp.platform_terms("freelancer")
    plan = sp.evaluate(sp.make_plan(60, 3, milestones=3), terms, sp.make_risk(0))
    single = sp.evaluate(sp.single_payment(60, 3), terms, sp.make_risk(0))
    assert plan.expected_fees == 15.0  # 3 × max(2.00, 5.00)
    assert single.expected_fees == 6.0
    assert plan.expected_net < single.expected_net


def test_custom_terms():
    terms = sp.platform_terms("fiverr", fee=0.05, review_days=1, hold_days=2, min_milestone=10)
    assert (terms.fee_rate, terms.review_days, terms.hold_days, terms.min_milestone) == (0.05, 1.0, 2.0, 10.0)
    assert terms.fee(100) == 5.0
    fiverr = sp.platform_terms("fiverr")
    assert (fiverr.fee(100), fiverr.review_days, fiverr.hold_days) == (20.0, 3, 14)
    assert fiverr.fee_rate == 0.2  # as the JSON shows it, not 0.19999999999999996


# --- shapes and explicit plans ------------------------------------------------------------

def test_split_shapes_to_the_cent():
    assert sp.plan_amounts(100, 3) == [33.34, 33.33, 33.33]
    assert sp.plan_amounts(100, 3, "front-loaded") == [50.0, 33.33, 16.67]  # weights 1.5, 1, 0.5
    assert sp.plan_amounts(100, 3, "back-loaded") == [16.67, 33.33, 50.0]
    assert sp.plan_amounts(0.03, 3) == [0.01, 0.01, 0.01]


def test_explicit_amounts_and_due_days():
    plan = sp.make_plan(1000, 30, amounts=[100, 250, 650], due_days=[3, 10, 30])
    assert [(m.start_day, m.due_day) for m in plan.milestones] == [(0.0, 3.0), (3.0, 10.0), (10.0, 30.0)]
    assert sp.evaluate(plan, DIRECT, sp.make_risk(0.2)).max_loss == 650.0
    default_days = sp.make_plan(1000, 30, amounts=[100, 250, 650])
    assert [m.due_day for m in default_days.milestones] == [10.0, 20.0, 30.0]


@pytest.mark.parametrize("kwargs, message", [
    ({"budget": 0, "days": 5, "milestones": 2}, "budget must be more than 0"),
    ({"budget": -10, "days": 5, "milestones": 2}, "budget must be more than 0"),
    ({"budget": 10, "days": 0, "milestones": 2}, "days must be more than 0"),
    ({"budget": 10, "days": -1, "milestones": 2}, "days must be more than 0"),
    ({"budget": 10, "days": float("inf"), "milestones": 2}, "days must be between 0.01 and 36,500, got inf"),
    ({"budget": 10, "days": float("nan"), "milestones": 2}, "days must be between 0.01 and 36,500, got nan"),
    ({"budget": 10, "days": 1e-9, "milestones": 2}, "days must be between 0.01 and 36,500, got 1e-09"),
    ({"budget": 10, "days": 5, "milestones": 0}, "at least 1 milestone"),
    ({"budget": 0.05, "days": 5, "milestones": 6}, "more than the budget has cents (5)"),
    ({"budget": 150, "days": 5, "amounts": [50, 50]}, "add up to 100.00, not the budget 150.00"),
    ({"budget": 150, "days": 5, "amounts": [150.001]}, "fractions of a cent"),
    ({"budget": 150, "days": 5, "amounts": [160, -10]}, "amount 2 must be more than 0"),
    ({"budget": 150, "days": 5, "milestones": 2, "due_days": [3, 2]}, "in order"),
    ({"budget": 150, "days": 5, "milestones": 2, "due_days": [3, 6]}, "after the end"),
    ({"budget": 150, "days": 5, "milestones": 2, "due_days": [5]}, "1 due days for 2 milestones"),
    ({"budget": 12, "days": 5, "milestones": 3, "terms": UPWORK}, "milestone 1 is 4.00, below the Upwork minimum milestone of 5.00"),
    ({"budget": 150, "days": 5, "milestones": 2, "shape": "zigzag"}, "unknown split shape"),
])
def test_refusals(kwargs, message):
    budget, days = kwargs.pop("budget"), kwargs.pop("days")
    with pytest.raises(UserError) as err:
        sp.make_plan(budget, days, **kwargs)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("p", [-0.01, 1.01, float("nan")])
def test_probability_outside_unit_interval_refused(p):
    with pytest.raises(UserError, match="between 0 and 1"):
        sp.make_risk(p)


def test_unknown_platform_and_bad_fee_refused():
    with pytest.raises(UserError, match="unknown platform"):
        sp.platform_terms("etsy")
    with pytest.raises(UserError, match="between 0 and 1"):
        sp.platform_terms("upwork", fee=10)


# --- recommendation -------------------------------------------------------------------------

def test_recommendation_smallest_count_within_the_share():
    risk = sp.make_risk(0.2)
    assert sp.recommend(150, 5, UPWORK, risk, max_loss_share=0.2).milestones == 5  # 30 = 20 % of 150
    rec = sp.recommend(150, 5, UPWORK, risk, max_loss_share=0.25)
    assert rec.milestones == 4  # 37.50 <= 37.50; three would leave 50
    assert rec.table["milestones"].tolist() == [1, 2, 3, 4, 5, 6]
    assert rec.table["max_loss"].tolist() == [150.0, 75.0, 50.0, 37.5, 30.0, 25.0]
    # each extra milestone is one more 14-day review when you wait for approval
    assert rec.table["finish_day_waiting_for_approval"].tolist() == [5.0, 19.0, 33.0, 47.0, 61.0, 75.0]
    assert rec.review_days_per_milestone == 14.0
    assert sp.recommend(150, 5, UPWORK, risk, max_loss_share=1.0).milestones == 1


def test_recommendation_respects_the_platform_minimum():
    rec = sp.recommend(20, 5, UPWORK, sp.make_risk(0.2), max_loss_share=0.1)  # would need 10 × 2.00
    assert rec.milestones is None
    assert rec.max_allowed == 4  # 4 × 5.00
    assert "even 4 milestones" in rec.reason
    assert sp.recommend(20, 5, DIRECT, sp.make_risk(0.2), max_loss_share=0.1).milestones == 10


def test_recommendation_names_what_a_minimum_fee_costs():
    """Freelancer.com: 10 % or 5.00. Four milestones of 10.00 pay 4 × 5.00 = 20.00; one payment of 40.00 pays 5.00."""
    rec = sp.recommend(40, 10, sp.platform_terms("freelancer"), sp.make_risk(0.1))
    assert rec.milestones == 4
    assert rec.reason.endswith("; the 5.00 minimum fee makes its fees 20.00 if all is paid, against 5.00 for one payment")
    # Without a minimum, fees do not grow with the count and nothing is added.
    assert "minimum fee" not in sp.recommend(150, 5, UPWORK, sp.make_risk(0.2)).reason
    # Nor for the cents each milestone's own fee rounds to: 333.33 in the recommended 5 milestones of 66.67, 66.67,
    # 66.67, 66.66, 66.66 pays 3 × 6.67 + 2 × 6.67 = 33.35 against 33.33 for one payment, without a minimum fee.
    rec = sp.recommend(333.33, 10, UPWORK, sp.make_risk(0.1))
    assert rec.fee_note is None and "minimum fee" not in rec.reason


def test_recommendation_uses_the_single_risk_for_one_payment():
    rec = sp.recommend(100, 4, DIRECT, sp.make_risk(0.19), single_risk=sp.make_risk(0.5), max_loss_share=0.5)
    first = rec.table.iloc[0]
    assert first["milestones"] == 1 and first["expected_net"] == pytest.approx(50.0)
    assert rec.table.iloc[1]["expected_net"] == pytest.approx(85.5)


def test_max_allowed_for_uneven_shapes():
    # front-loaded 150 in n: smallest is about 0.5 × 150 / n; it must stay >= 5.00 on Upwork.
    n = sp.max_milestones_allowed(150, UPWORK, "front-loaded")
    assert min(sp.plan_amounts(150, n, "front-loaded")) >= 5.0
    assert min(sp.plan_amounts(150, n + 1, "front-loaded")) < 5.0


# --- calibration on a workspace whose answer is known -------------------------------------

CONTRACT_HEADER = ["contract_id", "platform", "contract_type", "budget", "currency", "start_date",
                   "planned_end_date", "end_date", "status", "milestone_count"]
START = dt.date(2020, 1, 1)
PLANNED = 1000  # days, so fractions have three decimals


def _history_rows(cancel_fractions, *, prefix="S", budget=150, completed=30, milestone_count=1):
    rows = []
    planned_end = START + dt.timedelta(days=PLANNED)
    for i, fraction in enumerate(cancel_fractions):
        end = START + dt.timedelta(days=round(fraction * PLANNED))
        rows.append([f"{prefix}C{i}", "upwork", "fixed", budget, "USD", START, planned_end, end, "cancelled", milestone_count])
    for i in range(completed):
        # some finish early, some late: completion counts as surviving to the planned end
        end = planned_end + dt.timedelta(days=(i % 3 - 1) * 50)
        rows.append([f"{prefix}K{i}", "upwork", "fixed", budget, "USD", START, planned_end, end, "completed", milestone_count])
    return rows


def _workspace(tmp_path: Path, rows) -> Path:
    path = tmp_path / "contracts.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CONTRACT_HEADER)
        writer.writerows(rows)
    db = tmp_path / "history.duckdb"
    con = store.connect(db)
    import_files(con, [path], fmt="canonical", source="test")
    con.close()
    return db


def constant_fractions(p=0.25, k=1.0, events=10, n=40):
    """Where a Weibull(S(1) = 1 - p, k) puts the j-th of ``events`` cancellations among ``n``:
    S(u_j) = (n - j) / n, the Kaplan-Meier value after j events."""
    return [(math.log((n - j) / n) / math.log(1 - p)) ** (1 / k) for j in range(1, events + 1)]


def known_history(tmp_path: Path, k=1.0) -> Path:
    rows = _history_rows(constant_fractions(k=k))  # 10 of 40 single contracts of 150 cancelled
    # Decoys that must not count: milestone contracts, far bigger budgets, an hourly one,
    # active contracts (censored past the planned end), one without a planned end date.
    rows += _history_rows([0.1] * 15, prefix="M", completed=15, milestone_count=3)
    rows += _history_rows([0.2] * 20, prefix="B", budget=5000, completed=0)
    rows.append(["H1", "upwork", "hourly", "", "USD", START, START + dt.timedelta(days=10), START, "cancelled", ""])
    for i in range(3):
        rows.append([f"A{i}", "upwork", "fixed", 150, "USD", START, START + dt.timedelta(days=PLANNED), "", "active", 1])
    rows.append(["N1", "upwork", "fixed", 150, "USD", START, "", START + dt.timedelta(days=5), "cancelled", 1])
    db = _workspace(tmp_path, rows)
    con = store.connect(db)
    # A contract whose status is unknown (as after a transaction-history import) is left out:
    # a copy of a cancelled one, which would change the answer if it counted.
    con.execute("INSERT INTO contracts SELECT * REPLACE ('SX' AS contract_id, CAST(NULL AS VARCHAR) AS status) "
                "FROM contracts WHERE contract_id = 'SC0'")
    assert con.execute("SELECT count(*) FROM contract_view WHERE status IS NULL").fetchone()[0] == 1
    con.close()
    return db


def test_calibration_recovers_a_known_probability(tmp_path):
    db = known_history(tmp_path)
    con = store.connect(db, read_only=True)
    # The 3 active contracts started 5 days before ``as_of``: censored at 0.005, before any cancellation.
    cal = sp.calibrate(con, 150, "single", as_of=START + dt.timedelta(days=5))
    overdue = sp.calibrate(con, 150, "single", as_of=START + dt.timedelta(days=2 * PLANNED))
    con.close()
    # Still active long after the planned end, they survived it: 33 of 43 at risk get there.
    assert overdue.risk.cancel_prob == pytest.approx(10 / 43)
    assert not cal.fallback
    assert cal.finished == 40
    assert cal.excluded == 1  # the one without a planned end date
    assert cal.contracts == 43  # 40 finished + 3 active
    assert cal.cancelled == 10
    assert cal.budget_range == (75.0, 300.0)
    assert cal.risk.cancel_prob == pytest.approx(0.25)  # 30 of 40 survive to the planned end
    assert cal.risk.source == "calibrated"
    # Greenwood: var S = S² Σ d/(n(n-d)) = 0.75² (1/30 - 1/40) = 0.5625 / 120; log(-log) interval.
    se = math.sqrt(0.5625 / 120)
    half = 1.959963984540054 * se / (0.75 * abs(math.log(0.75)))
    low, high = 1 - 0.75 ** math.exp(-half), 1 - 0.75 ** math.exp(half)
    assert cal.risk.cancel_prob_ci == pytest.approx((low, high))
    assert cal.risk.hazard_shape == pytest.approx(1.0, abs=0.05)
    assert "43 single-payment contracts" in cal.message and "25.0%" in cal.message


def test_calibration_recovers_a_front_heavy_shape(tmp_path):
    db = _workspace(tmp_path, _history_rows(constant_fractions(k=0.5)))
    con = store.connect(db, read_only=True)
    cal = sp.calibrate(con, 150, "single")
    con.close()
    assert cal.risk.cancel_prob == pytest.approx(0.25)
    assert cal.risk.hazard_shape == pytest.approx(0.5, abs=0.05)
    assert cal.risk.hazard_label.startswith("front-heavy")


def test_calibration_of_milestone_contracts_is_separate(tmp_path):
    db = known_history(tmp_path)
    con = store.connect(db, read_only=True)
    cal = sp.calibrate(con, 150, "milestones")
    con.close()
    assert (cal.contracts, cal.cancelled) == (30, 15)
    assert cal.risk.cancel_prob == pytest.approx(0.5)
    assert "fewer than 3 cancellation times" in cal.message  # all at one fraction: shape assumed constant
    assert cal.risk.hazard_shape == 1.0


def test_calibration_falls_back_when_too_few(tmp_path):
    db = _workspace(tmp_path, _history_rows([0.2, 0.5], completed=8))
    con = store.connect(db, read_only=True)
    cal = sp.calibrate(con, 150, "single")
    con.close()
    assert cal.fallback
    assert cal.risk.source == "default"
    assert cal.risk.cancel_prob == sp.DEFAULT_CANCEL_PROB
    assert "only 10 finished single-payment contracts" in cal.message
    assert "default is assumed: 10% cancel before the end" in cal.message
    assert "without usable dates" not in cal.message  # every contract had its dates


def test_calibration_counts_one_contract_in_the_singular(tmp_path):
    db = _workspace(tmp_path, _history_rows([], completed=1))
    con = store.connect(db, read_only=True)
    cal = sp.calibrate(con, 150, "single")
    con.close()
    assert ("only 1 finished single-payment contract of 75.00–300.00 USD with a planned end date (0 cancelled; "
            "need 30)") in cal.message


def test_calibration_says_how_contracts_without_dates_get_them(tmp_path):
    """10 finished with dates, 2 cancelled without a planned end date: too few, and the way to add dates named."""
    from analysis.completions import DATES_FROM_TEMPLATE

    rows = _history_rows([0.2, 0.5], completed=8)
    rows += [[f"N{i}", "upwork", "fixed", 150, "USD", START, "", START + dt.timedelta(days=5), "cancelled", 1] for i in range(2)]
    db = _workspace(tmp_path, rows)
    con = store.connect(db, read_only=True)
    cal = sp.calibrate(con, 150, "single")
    con.close()
    assert cal.fallback and cal.excluded == 2
    assert f"only 10 finished single-payment contracts of 75.00–300.00 USD with a planned end date (2 cancelled; need 30) " \
           f"(2 without usable dates: {DATES_FROM_TEMPLATE})" in cal.message


def test_calibration_counts_a_cancellation_after_the_planned_end(tmp_path):
    """30 completed, 6 cancelled inside the planned duration and 4 cancelled at 1.5 times it (they
    ran late, and their single payment was never made): 10 of 40 lost their payment, so 25 %.
    Counting the late ones as having got through the planned end would say 6 of 40 = 15 %."""
    db = _workspace(tmp_path, _history_rows([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 1.5, 1.5, 1.5, 1.5]))
    con = store.connect(db, read_only=True)
    cal = sp.calibrate(con, 150, "single")
    con.close()
    assert (cal.finished, cal.cancelled, cal.fallback) == (40, 10, False)
    assert cal.risk.cancel_prob == pytest.approx(0.25)
    assert "25.0% cancel before the end, late cancellations included" in cal.message


def test_calibration_of_a_history_where_every_contract_was_cancelled(tmp_path):
    """30 of 30 cancelled at 80 % of the planned duration: the risk is 100 % (exact 95 % interval
    0.025 ** (1/30) = 88.4 % to 100 %), not the 10 % default for want of a contract reaching the end."""
    db = _workspace(tmp_path, _history_rows([0.8] * 30, completed=0))
    con = store.connect(db, read_only=True)
    cal = sp.calibrate(con, 150, "single")
    con.close()
    assert not cal.fallback and cal.risk.source == "calibrated"
    assert cal.risk.cancel_prob == 1.0
    assert cal.risk.cancel_prob_ci == pytest.approx((0.025 ** (1 / 30), 1.0))
    assert "every one was cancelled by its planned end" in cal.message
    assert "100.0% cancel before the end" in cal.message


def test_calibration_widens_the_budget_band_before_giving_up(tmp_path):
    rows = _history_rows(constant_fractions(), budget=150)
    db = _workspace(tmp_path, rows)
    con = store.connect(db, read_only=True)
    cal = sp.calibrate(con, 2000, "single")  # nothing within 1000–4000
    con.close()
    assert not cal.fallback and cal.budget_range is None
    assert cal.risk.cancel_prob == pytest.approx(0.25)
    assert "every budget was used" in cal.message


def test_calibration_compares_budgets_within_one_currency(tmp_path):
    """25 JPY contracts of 150, every one cancelled, beside the USD history of 150 (10 of 40
    cancelled): 150 yen is not 150 dollars, so by default only the USD contracts (the
    currency with the most contracts) are compared, and the message says which."""
    rows = _history_rows(constant_fractions())
    rows += [[f"J{i}", "upwork", "fixed", 150, "JPY", START, START + dt.timedelta(days=PLANNED),
              START + dt.timedelta(days=PLANNED // 2), "cancelled", 1] for i in range(25)]
    db = _workspace(tmp_path, rows)
    con = store.connect(db, read_only=True)
    usd = sp.calibrate(con, 150, "single")
    jpy = sp.calibrate(con, 150, "single", currency="JPY")
    con.close()
    assert (usd.currency, usd.finished, usd.cancelled) == ("USD", 40, 10)
    assert usd.risk.cancel_prob == pytest.approx(0.25)
    assert "single-payment contracts of 75.00–300.00 USD" in usd.message
    # 25 finished JPY contracts are fewer than the 30 a calibration needs: the default is stated.
    assert (jpy.currency, jpy.finished, jpy.cancelled, jpy.fallback) == ("JPY", 25, 25, True)
    assert "only 25 finished single-payment contracts" in jpy.message
    assert usd.to_json()["currency"] == "USD"
    # A currency the workspace has no contract in fell back to the default without a word; it is refused, naming
    # the ones it has (the most fixed-price contracts first: 40 USD, 25 JPY); one of several is enough.
    with store.connect(db, read_only=True) as con:
        with pytest.raises(UserError, match=r"^the workspace has no EUR contracts to calibrate from; its currencies "
                                            r"are USD, JPY$"):
            sp.calibrate(con, 150, "single", currency="eur")
        with pytest.raises(UserError, match="^the workspace has no EUR or GBP contracts"):
            sp.calibrate(con, 150, "single", currency=["EUR", "GBP"])
        assert sp.calibrate(con, 150, "single", currency=["EUR", "jpy"]).currency == "JPY"


def test_one_side_without_enough_history_puts_both_on_the_stated_default(tmp_path):
    """Singles: 40 finished, 25 % fitted. Milestone contracts: only 5 finished, so the default 10 %.
    Comparing 25 % against 10 % would credit milestones with a risk nobody measured; both take 10 %."""
    rows = _history_rows(constant_fractions()) + _history_rows([0.1] * 3, prefix="M", completed=2, milestone_count=3)
    db = _workspace(tmp_path, rows)
    con = store.connect(db, read_only=True)
    plan_cal, single_cal = sp.calibrate(con, 150, "milestones"), sp.calibrate(con, 150, "single")
    con.close()
    assert plan_cal.fallback and not single_cal.fallback
    assert single_cal.risk.cancel_prob == pytest.approx(0.25)
    plan_risk, single_risk = sp.comparable_risks(plan_cal, single_cal)
    assert (plan_risk.cancel_prob, plan_risk.hazard_shape) == (single_risk.cancel_prob, single_risk.hazard_shape) \
        == (sp.DEFAULT_CANCEL_PROB, 1.0)
    assert plan_risk.note == plan_cal.risk.note and single_risk.contracts == single_cal.risk.contracts
    assert sp.comparable_risks(single_cal, single_cal) == (single_cal.risk, single_cal.risk)

def test_both_sides_on_the_default_keep_their_own_counts(tmp_path):
    """Milestone contracts: 5 finished, 3 cancelled; singles: 6 finished, 2 cancelled. Both too few,
    both on the default risk; each side's risk still says how many of its own contracts it saw."""
    rows = (_history_rows([0.1] * 3, prefix="M", completed=2, milestone_count=3)
            + _history_rows([0.2, 0.5], prefix="S", completed=4))
    db = _workspace(tmp_path, rows)
    con = store.connect(db, read_only=True)
    plan_cal, single_cal = sp.calibrate(con, 150, "milestones"), sp.calibrate(con, 150, "single")
    con.close()
    assert plan_cal.fallback and single_cal.fallback
    plan_risk, single_risk = sp.comparable_risks(plan_cal, single_cal)
    assert (plan_risk.contracts, plan_risk.cancelled, single_risk.contracts, single_risk.cancelled) == (5, 3, 6, 2)
    assert plan_risk.cancel_prob == single_risk.cancel_prob == sp.DEFAULT_CANCEL_PROB


# --- charts ---------------------------------------------------------------------------------

# --- review time from the history ----------------------------------------------------------

#: Days from hand-in to payment of 40 Upwork milestones: 20 paid after 1 day, 10 after 3, 10 after 14.
#: Sorted, the median (as quantile_cont, linear between ranks) sits between the 20th and 21st
#: values, (1 + 3) / 2 = 2; the first quartile at rank 9.75 is 1; the third at rank 29.25 is
#: 3 + 0.25 * (14 - 3) = 5.75.
HANDIN_LAGS = [1] * 20 + [3] * 10 + [14] * 10


def handins_history(tmp_path: Path) -> Path:
    """Two-milestone Upwork contracts paid ``HANDIN_LAGS`` days after each hand-in, and decoys."""
    day = lambda n: START + dt.timedelta(days=n)  # noqa: E731
    contracts = [CONTRACT_HEADER[:-1]]
    milestones = [["contract_id", "seq", "amount", "submitted_date", "paid_date"]]
    for i in range(len(HANDIN_LAGS) // 2):
        contracts.append([f"R{i}", "upwork", "fixed", 200, "USD", START, day(40), day(40), "completed"])
        for seq, lag in ((1, HANDIN_LAGS[2 * i]), (2, HANDIN_LAGS[2 * i + 1])):
            milestones.append([f"R{i}", seq, 100, day(10 * seq), day(10 * seq + lag)])
    # Not counted for Upwork: a direct client's hand-ins (paid 30 days late), an hourly invoice, a
    # payment without a hand-in date and a hand-in not paid yet.
    contracts.append(["D1", "direct", "fixed", 200, "USD", START, day(40), day(60), "completed"])
    milestones += [["D1", 1, 100, day(10), day(40)], ["D1", 2, 100, day(20), day(50)]]
    contracts.append(["H1", "upwork", "hourly", "", "USD", START, day(40), day(40), "completed"])
    milestones.append(["H1", 1, 50, day(7), day(37)])
    contracts.append(["P1", "upwork", "fixed", 200, "USD", START, day(40), "", "active"])
    milestones += [["P1", 1, 100, "", day(35)], ["P1", 2, 100, day(20), ""]]
    for name, rows in (("contracts.csv", contracts), ("milestones.csv", milestones)):
        with (tmp_path / name).open("w", newline="") as f:
            csv.writer(f).writerows(rows)
    db = tmp_path / "handins.duckdb"
    con = store.connect(db)
    import_files(con, [tmp_path / "contracts.csv", tmp_path / "milestones.csv"], fmt="canonical", source="test")
    con.close()
    return db


def test_review_time_from_the_hand_ins_of_that_platform(tmp_path):
    con = store.connect(handins_history(tmp_path), read_only=True)
    history = sp.review_history(con, "upwork")
    assert history.handins == 40
    assert (history.median_days, history.p25_days, history.p75_days) == (2.0, 1.0, 5.75)
    assert np.percentile(HANDIN_LAGS, [50, 25, 75]).tolist() == [2.0, 1.0, 5.75]  # the same, a second way
    assert history.message == ("your clients on Upwork paid a fixed-price hand-in a median 2 days after it (the middle "
                               "half within 1–5.75 days; 40 hand-ins)")
    assert sp.review_history(con, "upwork-2016").median_days == 2.0  # the same platform under its old fee
    direct = sp.review_history(con, "direct")
    assert direct.handins == 2 and direct.median_days is None
    assert direct.message == ("only 2 paid fixed-price hand-ins with both dates from your direct clients (need 30): too "
                              "few to say how long they take to pay")
    assert sp.review_history(con, "upwork", min_handins=41).median_days is None
    with pytest.raises(UserError, match="unknown platform 'etsy'"):
        sp.review_history(con, "etsy")
    # every preset the splitter offers names the contracts of its history, and their clients
    assert all(preset.platforms and preset.clients for preset in sp.PRESETS.values())
    con.close()


def test_chart_builders_show_the_model_values():
    from dashboard.splitter_charts import cash_curve_figure, outcome_distribution_figure

    c = sp.compare(sp.make_plan(100, 4, milestones=2), UPWORK, sp.make_risk(0.19))
    dist = outcome_distribution_figure(c)
    plan_bars, single_bars = dist.data
    assert list(plan_bars.x) == [0.0, 45.0, 90.0]  # net after the 10 % fee
    assert list(plan_bars.y) == pytest.approx([0.1, 0.09, 0.81])
    assert list(single_bars.x) == [0.0, 90.0]
    assert list(single_bars.y) == pytest.approx([0.19, 0.81])
    cash = cash_curve_figure(c)
    plan_cash, single_cash, exposure = cash.data
    assert plan_cash.y[-1] == pytest.approx(76.95)
    assert single_cash.y[-1] == pytest.approx(72.9)
    assert plan_cash.x[-1] == single_cash.x[-1] == pytest.approx(25.3)  # the last release (day 23) plus 10 %, so its step shows
    assert list(single_cash.x[:-1]) == [0.0, 4.0, 23.0] and list(single_cash.y[:-1]) == pytest.approx([0, 0, 72.9])
    assert max(exposure.y) <= c.plan_outcome.max_loss
    assert max(exposure.y) == pytest.approx(50 * 0.9)  # the first milestone, just before its submission


def test_no_recommendation_when_every_plan_pays_nothing():
    rec = sp.recommend(150, 5, UPWORK, sp.make_risk(1.0))
    assert rec.milestones is None and rec.reason.startswith("none: every plan pays nothing")
    assert (rec.table["expected_net"] == 0).all()
    assert sp.certain_cancellation(sp.make_risk(1.0)) and sp.certain_cancellation(sp.make_risk(0.99)) is None
    assert sp.recommend(150, 5, UPWORK, sp.make_risk(0.99)).milestones == 4  # 37.50 is within 25 % of 150


def test_a_certain_cancellation_pays_nothing_even_with_a_steep_hazard():
    """S(t) = 0 ** ((t / days) ** k): with k = 162 the exponent underflowed to 0 early in the
    contract and 0 ** 0 = 1 paid the first of 100 milestones over one day (the fuzz test found it)."""
    risk = sp.make_risk(1.0, 162.0)
    assert risk.survival(np.array([0.0, 0.01, 0.5, 1.0]), 1.0).tolist() == [1.0, 0.0, 0.0, 0.0]
    recommendation = sp.recommend(500.0, 1.0, UPWORK, risk, max_loss_share=0.01)
    assert recommendation.milestones is None
    assert (recommendation.table["prob_paid_nothing"] == 1.0).all()


def every_milestone_contract_cancelled(tmp_path: Path) -> Path:
    """The auditor's history: 40 milestone contracts of 150, all cancelled, and no single-payment contract."""
    return _workspace(tmp_path, _history_rows([0.1 * (i % 9 + 1) for i in range(40)], prefix="M", completed=0,
                                              milestone_count=2))


def test_a_history_that_contradicts_the_default_is_said(tmp_path):
    """40 of 40 cancelled: the exact 95 % interval is 0.025 ** (1 / 40) = 91.2 % to 100 %, far from the 10 % the
    figures fall back to because no single-payment contract can be compared. 3 of 5 cancelled (too few to fit):
    Clopper-Pearson 14.7 %–94.7 %, which leaves out 10 % too; 1 of 5 (0.5 %–71.6 %) does not."""
    con = store.connect(every_milestone_contract_cancelled(tmp_path), read_only=True)
    plan, single = sp.calibrate(con, 150, "milestones"), sp.calibrate(con, 150, "single")
    con.close()
    plan_risk, single_risk = sp.comparable_risks(plan, single)
    assert plan_risk.cancel_prob == single_risk.cancel_prob == 0.1
    warnings = sp.history_warnings(plan, single, plan_risk, single_risk)
    assert warnings == [
        f"your history contradicts the assumed 10% risk: 40 of your 40 finished milestone contracts were cancelled "
        f"or disputed (an estimated 100.0% cancel before the end, 95 % CI {100 * 0.025 ** (1 / 40):.1f}%–100.0%), but the figures assume 10% because "
        "the single-payment side has too little history to compare with"]
    assert 0.025 ** (1 / 40) == pytest.approx(0.912, abs=5e-4)
    few = dataclasses.replace(single, structure="single", finished=5, cancelled=3)
    said = sp.history_contradiction(few, single_risk)
    assert "3 of your 5 finished single-payment contracts were cancelled or disputed (60.0%, 95 % CI 14.7%–94.7%)" in said
    assert "because 5 are too few to estimate from (need 30)" in said
    assert sp.history_contradiction(dataclasses.replace(few, cancelled=1), single_risk) is None
    # A risk the user gave (or one fitted on both sides) is no default: nothing to contradict.
    assert sp.history_contradiction(plan, sp.make_risk(0.1)) is None


def test_a_cancelled_single_payment_brings_what_the_history_says():
    """A single payment of 150 on Upwork (10 % fee), 25 % cancel before the end; 40 % of cancelled ones received
    something, 16 % of the budget on average: those received 0.16 / 0.4 = 40 % = 60.00 (fee 6.00). Nothing:
    0.25 × 0.6 = 0.15; part: 0.25 × 0.4 = 0.1; all: 0.75. Expected net 0.75 × 135 + 0.1 × 54 = 106.65."""
    risk = sp.Risk(0.25, 1.0, cancelled_paid_share=0.16, cancelled_paid_any=0.4, cancelled_paid_note="measured")
    out = sp.evaluate(sp.single_payment(150, 5), UPWORK, risk)
    assert out.prob_paid_nothing == pytest.approx(0.15)
    assert out.prob_paid_in_full == pytest.approx(0.75)
    assert out.expected_gross == pytest.approx(0.75 * 150 + 0.1 * 60)
    assert out.expected_net == pytest.approx(106.65)
    assert out.max_loss == 150.0  # a cancelled client may still pay nothing
    dist = out.distribution
    assert dist["gross"].tolist() == [0.0, 60.0, 150.0] and dist["net"].tolist() == [0.0, 54.0, 135.0]
    assert dist["probability"].tolist() == pytest.approx([0.15, 0.1, 0.75])
    assert dist["part_paid"].tolist() == [False, True, False]
    # Release day 24 for both: days to cash stay 24; a plan of several milestones ignores it.
    assert out.expected_days_to_cash == pytest.approx(24.0)
    two = sp.evaluate(sp.make_plan(150, 5, milestones=2), UPWORK, risk)
    assert two.prob_paid_nothing == pytest.approx(1 - 0.75 ** 0.5)


def partly_paid_history(tmp_path: Path) -> Path:
    """40 single-payment contracts of 150 (USD): 30 completed, 10 cancelled halfway, 4 of them paid 60.00."""
    rows = _history_rows([0.5] * 10, completed=30)
    path = tmp_path / "contracts.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*CONTRACT_HEADER, "paid_total"])
        for row in rows:
            writer.writerow([*row, 60 if row[0] in ("SC0", "SC1", "SC2", "SC3") else (150 if "K" in row[0] else "")])
    db = tmp_path / "history.duckdb"
    con = store.connect(db)
    import_files(con, [path], fmt="canonical", source="test")
    con.close()
    return db


def test_calibration_measures_what_cancelled_single_payments_received(tmp_path):
    """Of the 10 cancelled, 4 received 60 of 150 (40 %) and 6 nothing: a mean 16 % of the budget, 40 % received
    something; KM over 40 contracts with 10 cancellations halfway: p = 0.25."""
    con = store.connect(partly_paid_history(tmp_path), read_only=True)
    cal = sp.calibrate(con, 150, "single")
    con.close()
    assert cal.risk.cancel_prob == pytest.approx(0.25)
    assert cal.risk.cancelled_paid_share == pytest.approx(0.16)
    assert cal.risk.cancelled_paid_any == pytest.approx(0.4)
    assert cal.risk.cancelled_paid_note.startswith(
        "your 10 cancelled or disputed single-payment contracts of 75.00–300.00 USD received 16.0% of the budget on "
        "average; 6 of them (60.0%) received nothing")
    out = sp.evaluate(sp.single_payment(150, 5), DIRECT, cal.risk)
    assert out.prob_paid_nothing == pytest.approx(0.15)
    assert out.expected_gross == pytest.approx(118.5)  # 0.75 × 150 + 0.1 × 60


def certain_single_history(tmp_path: Path, *, every_plan_cancelled: bool, single_paid: float | str) -> Path:
    """The auditor's two histories, at a budget of 150: 40 single-payment contracts, all cancelled, each paid
    ``single_paid`` toward its budget; 40 milestone contracts, all cancelled (``every_plan_cancelled``), else 6 of
    them cancelled where a constant hazard with p = 0.15 puts them and 34 completed (KM: S(1) = 34 / 40 = 0.85)."""
    plan = (_history_rows([0.1 * (i % 9 + 1) for i in range(40)], prefix="M", completed=0, milestone_count=2)
            if every_plan_cancelled else
            _history_rows(constant_fractions(p=0.15, events=6), prefix="M", completed=34, milestone_count=2))
    rows = plan + _history_rows([0.1 * (i % 9 + 1) for i in range(40)], completed=0)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "contracts.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*CONTRACT_HEADER, "paid_total"])
        for row in rows:
            writer.writerow([*row, single_paid if row[0].startswith("SC") else ""])
    db = tmp_path / "history.duckdb"
    con = store.connect(db)
    import_files(con, [path], fmt="canonical", source="test")
    con.close()
    return db


CERTAIN_SINGLE = sp.Risk(1.0, 1.0, cancelled_paid_share=0.5, cancelled_paid_any=1.0, cancelled_paid_note="measured")


def test_a_certain_single_payment_paid_in_part_pays_on_its_release_day():
    """Every single payment cancelled, each paid half its budget: 800 over 20 days on Upwork is paid 400.00 (fee
    40.00) for certain, withdrawable on day 20 + 14 + 5 = 39 — its first cash too, not "—"."""
    out = sp.evaluate(sp.single_payment(800, 20), UPWORK, CERTAIN_SINGLE)
    assert out.prob_paid_nothing == 0.0 and out.expected_net == pytest.approx(360.0)
    assert out.expected_days_to_cash == 39.0
    assert out.days_to_first_cash == 39.0


def test_no_plan_sure_to_pay_nothing_is_recommended():
    """At 100 % every plan of 2 or more milestones pays nothing; the single payment brings 360.00 from what cancelled
    single payments received (or 0.7 × 720 = 504.00 under its own 30 % risk): 4 milestones were recommended, sure
    to pay nothing. None is, and the reason says what the single payment brings and that 800.00 is over 25 %."""
    for single_risk, expected in ((CERTAIN_SINGLE, "360.00"), (sp.make_risk(0.3), "504.00")):
        rec = sp.recommend(800, 20, UPWORK, sp.make_risk(1.0), single_risk=single_risk)
        assert rec.milestones is None
        assert rec.reason.startswith("none: every plan of milestones pays nothing under this risk")
        assert f"only the single payment brings anything (expected {expected} after fees" in rec.reason
        assert "leaves 800.00 at stake, more than 25% of the budget" in rec.reason
    # A single payment within the limit is still recommended: it pays something.
    assert sp.recommend(800, 20, UPWORK, sp.make_risk(1.0), single_risk=CERTAIN_SINGLE, max_loss_share=1.0).milestones == 1


def test_a_certain_cancellation_names_only_the_side_it_applies_to():
    plan, single = sp.make_risk(0.15), sp.make_risk(1.0)
    assert sp.certain_cancellation(plan, single) == ("at the single payment's 100 % the model has the client cancel "
                                                     "at once, before its hand-in: the single payment pays nothing")
    assert sp.certain_cancellation(single, plan) == ("at the plan's 100 % the model has the client cancel at once, "
                                                     "before the first hand-in: a plan of milestones pays nothing")
    assert sp.certain_cancellation(single, CERTAIN_SINGLE) == (
        "at 100 % the model has the client cancel at once, before any hand-in: a plan of milestones pays nothing; the "
        "single payment brings only what your cancelled single payments received (50.0% of the budget on average)")
    assert sp.certain_cancellation(single).endswith("nothing is paid under any plan")
    assert sp.certain_cancellation(plan) is None and sp.certain_cancellation(plan, sp.make_risk(0.99)) is None


def test_calibrated_histories_where_one_side_or_both_were_always_cancelled(tmp_path):
    """The auditor's case B (plan p = 0.15, single payments all cancelled and paid nothing) and case A (both sides
    all cancelled, single payments paid half their budget)."""
    b = store.connect(certain_single_history(tmp_path / "b", every_plan_cancelled=False, single_paid=""),
                      read_only=True)
    plan_b, single_b = sp.calibrate(b, 150, "milestones"), sp.calibrate(b, 150, "single")
    b.close()
    assert plan_b.risk.cancel_prob == pytest.approx(0.15) and single_b.risk.cancel_prob == 1.0
    assert single_b.risk.cancelled_paid_share == 0.0
    assert sp.certain_cancellation(plan_b.risk, single_b.risk).endswith(": the single payment pays nothing")
    a = store.connect(certain_single_history(tmp_path / "a", every_plan_cancelled=True, single_paid=75),
                      read_only=True)
    plan_a, single_a = sp.calibrate(a, 150, "milestones"), sp.calibrate(a, 150, "single")
    a.close()
    assert (plan_a.risk.cancel_prob, single_a.risk.cancel_prob) == (1.0, 1.0)
    assert (single_a.risk.cancelled_paid_share, single_a.risk.cancelled_paid_any) == (0.5, 1.0)
    c = sp.compare(sp.make_plan(150, 5, milestones=5), UPWORK, plan_a.risk, single_a.risk)
    assert c.single_outcome.expected_net == pytest.approx(67.5)  # 75.00 less the 10 % fee
    assert c.single_outcome.days_to_first_cash == 24.0  # day 5 + 14 review + 5 hold
    assert c.plan_outcome.prob_paid_nothing == 1.0


def test_a_plan_has_at_most_a_thousand_milestones():
    """100,000 milestones died of a memory error; a thousand is the most a plan (or the recommender) takes."""
    assert len(sp.make_plan(1_000_000, 60, milestones=1000).milestones) == sp.MAX_MILESTONES == 1000
    with pytest.raises(UserError, match="^a plan may have at most 1,000 milestones, got 100,000$"):
        sp.make_plan(1_000_000, 60, milestones=100_000)
    with pytest.raises(UserError, match="^a plan may have at most 1,000 milestones, got 1,001$"):
        sp.make_plan(1001, 60, amounts=[1.0] * 1001)


def test_the_cash_curve_needs_no_matrix_of_days_by_milestones():
    """Secured on days 1 and 2 (10 and 20 gross), withdrawable on days 3 and 4 (9 and 18 net): by day 0–4 the secured
    gross is 0, 10, 30, 30, 30 and the cash 0, 0, 0, 9, 27. 3,000 milestones used a 6,001 × 3,000 matrix (18 MB of
    booleans, twice); the sorted sums need a few arrays of 9,000 numbers."""
    import tracemalloc

    curve = sp._cash_curve(np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([10.0, 20.0]), np.array([9.0, 18.0]))
    assert curve["day"].tolist() == [0, 1, 2, 3, 4]
    assert curve["expected_secured_gross"].tolist() == [0, 10, 30, 30, 30]
    assert curve["expected_cash"].tolist() == [0, 0, 0, 9, 27]
    n = 3000
    secured = np.arange(1, n + 1, dtype=float)
    tracemalloc.start()
    curve = sp._cash_curve(secured, secured + 19.5, np.ones(n), np.full(n, 0.9))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2_000_000, peak
    assert curve["expected_cash"].iloc[-1] == pytest.approx(0.9 * n)
    assert curve.set_index("day").at[1500.0, "expected_secured_gross"] == 1500


def _refusal(budget: float, text: str, days: float = 30) -> str:
    """What ``split --amounts text`` says: make_plan's refusal of the comma-split amounts, with amounts_error's hint."""
    amounts = [float(part) for part in text.split(",")]
    with pytest.raises(UserError) as caught:
        sp.make_plan(budget, days, amounts=amounts, terms=UPWORK)
    return str(sp.amounts_error(caught.value, text, budget))


def test_the_thousands_hint_only_when_that_reading_adds_up_to_the_budget():
    """'100,200' for 1,000 is 100 + 200 = 300; read as 100200 it makes no more sense, yet it got the hint. '1,000' for
    1,000 splits into 1 and 0 (refused for the 0) and got none, though 1000 is the budget."""
    assert _refusal(1000, "100,200") == "the amounts add up to 300.00, not the budget 1,000.00"
    assert _refusal(1000, "1,000") == ("amount 2 must be more than 0, got 0; '1,000' looks like 1000 written with a "
                                       "thousands separator, but every comma separates two amounts: write amounts "
                                       "without one (1000)")
    assert _refusal(3000, "1,500,1,500").endswith("'1,500' looks like 1500 written with a thousands separator, but "
                                                  "every comma separates two amounts: write amounts without one (1500, 1500)")
    assert "looks like 1500" in _refusal(2500, "1,500,1,000")  # 1, 500, 1, 0: refused for the 0; 1500 + 1000 = 2500
    # 1 + 500 + 1 + 500 = 1,002 is the budget: refused for the 1.00 below Upwork's minimum; 3,000 is not the budget.
    assert _refusal(1002, "1,500,1,500") == "milestone 1 is 1.00, below the Upwork minimum milestone of 5.00"
    # A refusal that is not about the amounts gets no hint about them.
    assert _refusal(1000, "1,000", days=0) == "days must be more than 0, got 0"
