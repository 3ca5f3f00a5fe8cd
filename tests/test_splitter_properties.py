"""Properties of the splitter that must hold for every budget, plan, platform and risk (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from analysis import splitter as sp
from analysis.errors import UserError
from analysis.platforms import PRESETS

budget_cents = st.integers(min_value=1, max_value=10**9)
days = st.floats(min_value=0.01, max_value=2000, allow_nan=False, allow_infinity=False)
shapes = st.sampled_from(sp.SPLIT_SHAPES)
probabilities = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
hazard_shapes = st.one_of(st.sampled_from(list(sp.HAZARD_SHAPES)), st.floats(min_value=0.05, max_value=20))
platforms = st.sampled_from(sorted(PRESETS))


@st.composite
def risks(draw):
    return sp.make_risk(draw(probabilities), draw(hazard_shapes))


@st.composite
def plans(draw, max_n=40):
    """A plan from a count and shape, or from explicit amounts with explicit due days."""
    total_days = draw(days)
    if draw(st.booleans()):
        cents = draw(st.lists(st.integers(min_value=1, max_value=10**7), min_size=1, max_size=max_n))
        fractions = sorted(draw(st.lists(st.floats(min_value=0.001, max_value=1.0), min_size=len(cents), max_size=len(cents))))
        due = [f * total_days for f in fractions]
        assume(due[0] > 0)
        return sp.make_plan(sum(cents) / 100, total_days, amounts=[c / 100 for c in cents], due_days=due)
    budget = draw(st.integers(min_value=1, max_value=10**8))
    n = draw(st.integers(min_value=1, max_value=min(max_n, budget)))
    try:
        return sp.make_plan(budget / 100, total_days, milestones=n, shape=draw(shapes),
                            wait_days=draw(st.sampled_from([0.0, 0.0, 1.0, 14.0])))
    except UserError as exc:  # an uneven shape can leave a milestone at 0 cents for tiny budgets
        assert "leaves a milestone at 0" in str(exc)
        assume(False)


@settings(max_examples=300, deadline=None)
@given(budget_cents, st.integers(min_value=1, max_value=5000), shapes)
def test_amounts_add_up_to_the_budget_to_the_cent(cents, n, shape):
    assume(n <= cents)
    try:
        split = sp.plan_cents(cents, n, shape)
    except UserError as exc:
        assert shape != "equal" and "leaves a milestone at 0" in str(exc)
        return
    assert len(split) == n
    assert sum(split) == cents
    weights = sp.split_weights(n, shape)
    ideal = cents * weights / weights.sum()
    assert np.all(np.abs(np.array(split) - ideal) < 1 + 1e-6)  # each within a cent of its share
    # and the float amounts a user sees add up too
    assert round(sum(sp.plan_amounts(cents / 100, n, shape)) * 100) == cents


@given(budget_cents, st.integers(min_value=1, max_value=10**6))
def test_more_milestones_than_cents_is_refused(cents, extra):
    with pytest.raises(UserError, match="more than the budget has cents"):
        sp.plan_cents(cents, cents + extra)


@settings(max_examples=200, deadline=None)
@given(plans(), platforms, risks())
def test_max_loss_never_exceeds_the_largest_milestone(plan, platform, risk):
    out = sp.evaluate(plan, PRESETS[platform], risk)
    largest = max(plan.amounts)
    assert out.max_loss <= largest
    # ... and is reached: the work at stake just before the largest milestone's submission
    assert out.exposure_curve["exposure"].max() == pytest.approx(out.max_loss)
    assert (out.exposure_curve["expected_exposure"] <= out.max_loss + 1e-9).all()


@settings(max_examples=200, deadline=None)
@given(plans(), st.floats(min_value=0.01, max_value=100), risks())
def test_without_escrow_max_loss_counts_unpaid_hand_ins(plan, review, risk):
    """A direct client paying ``review`` days after each hand-in: at stake is at least the largest milestone, at
    most the budget, and exactly the peak of the exposure curve; no milestone is paid more often than under
    escrow (it must survive to its payment, not just its hand-in)."""
    terms = sp.platform_terms("direct", review_days=review)
    out = sp.evaluate(plan, terms, risk)
    assert max(plan.amounts) - 1e-9 <= out.max_loss <= plan.budget + 1e-9
    assert out.exposure_curve["exposure"].max() == pytest.approx(out.max_loss, abs=0.006)
    escrowed = sp.evaluate(plan, PRESETS["upwork"], risk)
    assert (out.milestones["prob_paid"] <= escrowed.milestones["prob_paid"] + 1e-12).all()


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10**8), days, platforms, risks())
def test_one_milestone_equals_the_single_payment(cents, total_days, platform, risk):
    terms = PRESETS[platform]
    one = sp.evaluate(sp.make_plan(cents / 100, total_days, milestones=1), terms, risk)
    single = sp.evaluate(sp.single_payment(cents / 100, total_days), terms, risk)
    assert one.expected_net == single.expected_net
    assert one.max_loss == single.max_loss == cents / 100
    assert one.prob_paid_nothing == single.prob_paid_nothing == pytest.approx(risk.cancel_prob)
    assert one.expected_days_to_cash == single.expected_days_to_cash
    assert one.distribution.equals(single.distribution)


@settings(max_examples=300, deadline=None)
@given(plans(max_n=20), risks())
def test_refining_never_lowers_expected_earnings(plan, risk):
    """Every milestone split in two: each half is submitted no later than the whole was."""
    assume(min(m.amount_cents for m in plan.milestones) >= 2)
    finer = sp.refine(plan)
    assert len(finer.milestones) == 2 * len(plan.milestones)
    assert finer.budget_cents == sum(m.amount_cents for m in finer.milestones) == plan.budget_cents
    direct = PRESETS["direct"]
    coarse_out, fine_out = sp.evaluate(plan, direct, risk), sp.evaluate(finer, direct, risk)
    tolerance = 1e-9 * plan.budget
    assert fine_out.expected_gross >= coarse_out.expected_gross - tolerance
    assert fine_out.expected_net >= coarse_out.expected_net - tolerance
    assert fine_out.prob_paid_nothing <= coarse_out.prob_paid_nothing + 1e-12
    assert fine_out.max_loss <= coarse_out.max_loss


@settings(max_examples=200, deadline=None)
@given(plans(), platforms, risks())
def test_distribution_is_a_distribution_consistent_with_the_expectations(plan, platform, risk):
    out = sp.evaluate(plan, PRESETS[platform], risk)
    d = out.distribution
    assert (d["probability"] >= 0).all()
    assert d["probability"].sum() == pytest.approx(1.0)
    assert float(d["gross"] @ d["probability"]) == pytest.approx(out.expected_gross, rel=1e-9, abs=1e-6)
    assert float(d["net"] @ d["probability"]) == pytest.approx(out.expected_net, rel=1e-9, abs=1e-6)
    assert out.prob_paid_nothing == pytest.approx(d["probability"].iloc[0])
    assert d["gross"].iloc[-1] == plan.budget
    final = out.cash_curve["expected_cash"].iloc[-1]
    assert final == pytest.approx(out.expected_net, rel=1e-9, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(plans(), st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1), hazard_shapes)
def test_more_risk_never_earns_more(plan, p1, p2, hazard):
    low, high = sorted((p1, p2))
    terms = PRESETS["upwork"]
    safe = sp.evaluate(plan, terms, sp.make_risk(low, hazard))
    risky = sp.evaluate(plan, terms, sp.make_risk(high, hazard))
    assert risky.expected_net <= safe.expected_net + 1e-9 * plan.budget
    assert risky.prob_paid_nothing >= safe.prob_paid_nothing - 1e-12


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=100, max_value=10**7), st.floats(min_value=0.01, max_value=1.0), shapes, platforms)
def test_recommendation_is_the_smallest_safe_count(cents, share, shape, platform):
    terms = PRESETS[platform]
    assume(cents >= round(terms.min_milestone * 100))
    rec = sp.recommend(cents / 100, 10, terms, sp.make_risk(0.2), max_loss_share=share, shape=shape)
    limit = share * cents / 100 + 1e-8
    if rec.milestones is None:
        assert max(sp.plan_amounts(cents / 100, rec.max_allowed, shape)) > limit
        return
    assert rec.milestones <= rec.max_allowed
    assert max(sp.plan_amounts(cents / 100, rec.milestones, shape)) <= limit
    assert min(sp.plan_amounts(cents / 100, rec.milestones, shape)) >= terms.min_milestone
    for fewer in range(1, rec.milestones):
        assert max(sp.plan_amounts(cents / 100, fewer, shape)) > limit
    assert math.isclose(rec.table.set_index("milestones").loc[rec.milestones, "max_loss"],
                        max(sp.plan_amounts(cents / 100, rec.milestones, shape)))
