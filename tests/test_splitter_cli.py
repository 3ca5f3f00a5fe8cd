"""``milestone-lens split`` as users script it: the SPEC JSON document, refusals, calibration."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import duckdb
import pytest

from tests.test_splitter import PLANNED, START, handins_history, known_history

SEED = ("split", "--budget", "150", "--days", "5", "--milestones", "5")


def test_seed_example_json(cli):
    result = cli(*SEED, "--json")
    assert result.code == 0, result.err
    assert result.err == ""
    doc = json.loads(result.out)
    assert doc["budget"] == 150.0 and doc["days"] == 5.0 and doc["fee_rate"] == 0.10  # Upwork today
    assert [(m["seq"], m["amount"], m["start_day"], m["due_day"]) for m in doc["milestones"]] == [
        (1, 30.0, 0.0, 1.0), (2, 30.0, 1.0, 2.0), (3, 30.0, 2.0, 3.0), (4, 30.0, 3.0, 4.0), (5, 30.0, 4.0, 5.0)]
    assert [m["expected_release_day"] for m in doc["milestones"]] == [20.0, 21.0, 22.0, 23.0, 24.0]
    for side in ("plan", "single_payment"):
        assert set(doc[side]) >= {"expected_net", "max_loss", "prob_paid_nothing", "expected_days_to_cash"}
    assert doc["plan"]["max_loss"] == 30.0
    assert doc["single_payment"]["max_loss"] == 150.0
    # No probability given: the stated default, and the document says so.
    assert doc["risk"]["plan"]["source"] == "default"
    assert doc["risk"]["plan"]["cancel_prob"] == 0.10


def test_hand_computed_values_through_the_cli(cli):
    """100 over 4 days in 2, P 0.19 constant: S(2) = 0.9, S(4) = 0.81 (see test_splitter)."""
    doc = cli("split", "--budget", "100", "--days", "4", "--milestones", "2", "--cancel-prob", "0.19",
              "--platform", "direct", "--json").json()
    assert doc["plan"]["expected_net"] == pytest.approx(85.5)
    assert doc["plan"]["prob_paid_nothing"] == pytest.approx(0.1)
    assert doc["single_payment"]["expected_net"] == pytest.approx(81.0)
    assert doc["single_payment"]["prob_paid_nothing"] == pytest.approx(0.19)
    assert doc["plan"]["expected_days_to_cash"] == pytest.approx((45 * 2 + 40.5 * 4) / 85.5)
    assert doc["single_payment"]["expected_days_to_cash"] == 4.0
    assert [d["probability"] for d in doc["plan"]["distribution"]] == pytest.approx([0.1, 0.09, 0.81])


def test_a_direct_client_paying_later_leaves_handed_in_work_at_stake(cli):
    """The auditor's case: paid 10 days after each hand-in, all 150 is handed in and unpaid on day 5; milestone i
    is paid with S(i + 10) = 0.9 ** ((i + 10) / 5)."""
    doc = cli(*SEED, "--platform", "direct", "--review-days", "10", "--json").json()
    paid = [0.9 ** ((i + 10) / 5) for i in range(1, 6)]
    assert doc["plan"]["max_loss"] == 150.0
    assert [m["prob_paid"] for m in doc["milestones"]] == pytest.approx(paid)
    assert doc["plan"]["expected_net"] == pytest.approx(30 * sum(paid))
    assert doc["plan"]["prob_paid_nothing"] == pytest.approx(1 - 0.9 ** 2.2)
    assert doc["recommendation"]["milestones"] is None


def test_custom_fee_amounts_and_due_days(cli):
    doc = cli("split", "--budget", "1000", "--days", "30", "--amounts", "100,250,650", "--due-days", "3,10,30",
              "--fee", "5%", "--review-days", "2", "--hold-days", "0", "--cancel-prob", "0", "--json").json()
    assert doc["fee_rate"] == 0.05
    assert [(m["amount"], m["due_day"], m["expected_release_day"]) for m in doc["milestones"]] == [
        (100.0, 3.0, 5.0), (250.0, 10.0, 12.0), (650.0, 30.0, 32.0)]
    assert doc["plan"]["expected_net"] == pytest.approx(950.0)
    assert doc["plan"]["max_loss"] == 650.0


def test_the_fee_rate_under_the_sliding_fee_is_this_budgets(cli):
    """Upwork 2016-2023 with 600 billed with the client before: 1,000 more pays 10 % on all of it
    (600 to 1,600 lies in the 500-10,000 tier), so 0.1, not the first tier's 0.2; with nothing billed
    before, 500 at 20 % + 500 at 10 % = 150 of 1,000, 0.15."""
    base = ["split", "--budget", "1000", "--days", "10", "--milestones", "2", "--platform", "upwork-2016",
            "--cancel-prob", "0", "--json"]
    assert cli(*base, "--billed-before", "600").json()["fee_rate"] == pytest.approx(0.1)
    doc = cli(*base).json()
    assert doc["fee_rate"] == pytest.approx(0.15) and doc["platform"]["fee_rate"] == 0.2


def test_recommendation_in_the_document(cli):
    doc = cli(*SEED, "--cancel-prob", "0.2", "--max-loss-share", "0.2", "--json").json()
    rec = doc["recommendation"]
    assert rec["milestones"] == 5
    assert rec["review_days_per_milestone"] == 14.0
    assert [row["max_loss"] for row in rec["table"]] == [150.0, 75.0, 50.0, 37.5, 30.0, 25.0, 21.43]


def test_text_output(cli):
    result = cli(*SEED, "--cancel-prob", "0.2")
    assert result.code == 0
    assert "max loss (gross)" in result.out
    assert "30.00" in result.out and "150.00" in result.out
    assert "Recommendation: 4 milestones" in result.out
    # Five milestones due every day; each withdrawable 14 review + 5 hold days after it is due (default: Upwork).
    assert re.search(r"days to first cash\s+20\.0\s+24\.0\n", result.out)  # 1 + 19 against 5 + 19


def test_text_columns_stay_apart_at_the_largest_budget(cli):
    """A trillion in 5: the plan nets 0.9 × 200e9 × Σ 0.9 ** (i / 5) and the single payment 0.9 × 0.9 × 1e12;
    the two figures (18 and 18 characters) ran together in 14- and 16-character columns."""
    out = cli("split", "--budget", "1e12", "--days", "5", "--milestones", "5").out
    plan = 0.9 * 200e9 * sum(0.9 ** (i / 5) for i in range(1, 6))
    assert re.search(rf"expected net +{plan:,.2f}  +810,000,000,000\.00\n", out)
    assert re.search(r"max loss \(gross\) +200,000,000,000\.00  +1,000,000,000,000\.00\n", out)
    assert re.search(r"\n  1  +200,000,000,000\.00  +0\.00  +1\.00  +20\.00  +97\.9%\n", out)


@pytest.mark.parametrize("args, message", [
    (("--budget", "0", "--days", "5", "--milestones", "2"), "budget must be more than 0"),
    (("--budget", "-5", "--days", "5", "--milestones", "2"), "budget must be more than 0"),
    (("--budget", "100", "--days", "0", "--milestones", "2"), "days must be more than 0"),
    (("--budget", "150", "--days", "inf", "--milestones", "2"), "days must be between 0.01 and 36,500, got inf"),
    (("--budget", "100", "--days", "5", "--milestones", "0"), "--milestones must be at least 1"),
    (("--budget", "0.05", "--days", "5", "--milestones", "6", "--platform", "direct"), "more than the budget has cents"),
    (("--budget", "150", "--days", "5", "--amounts", "50,50"), "add up to 100.00, not the budget 150.00"),
    (("--budget", "150", "--days", "5", "--amounts", "50,x,100"), "--amounts: 'x' is not a number"),
    (("--budget", "150", "--days", "5", "--milestones", "2", "--cancel-prob", "1.2"), "between 0 and 1"),
    (("--budget", "150", "--days", "5", "--milestones", "2", "--cancel-prob", "-0.1"), "between 0 and 1"),
    (("--budget", "12", "--days", "5", "--milestones", "3"), "below the Upwork minimum milestone of 5.00"),
    (("--budget", "150", "--days", "5", "--milestones", "2", "--fee", "abc"), "--fee: 'abc' is not a rate"),
    (("--budget", "150", "--days", "5", "--milestones", "2", "--max-loss-share", "0"), "max-loss share"),
    (("--budget", "150", "--days", "5", "--milestones", "2", "--today", "2026-01-01"),
     "--today is the as-of date of --calibrate's history; without --calibrate it changes nothing"),
    (("--budget", "150", "--days", "5", "--milestones", "2", "--currency", "EUR"),
     "--currency chooses the currency of --calibrate's history; without --calibrate it changes nothing"),
    # 100,000 milestones died of numpy's ArrayMemoryError (exit 1) in a days-by-milestones matrix
    (("--budget", "1000000", "--days", "60", "--milestones", "100000", "--cancel-prob", "0.2"),
     "a plan may have at most 1,000 milestones, got 100,000"),
    (("--budget", "1001", "--days", "60", "--amounts", ",".join(["1"] * 1001)), "at most 1,000 milestones, got 1,001"),
])
def test_refusals_exit_2_one_line(cli, args, message):
    result = cli("split", *args, "--json")
    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("milestone-lens: error: ")
    assert message in lines[0]


@pytest.mark.parametrize("args", [
    ("--budget", "150", "--days", "5"),  # neither --milestones nor --amounts
    ("--budget", "150", "--days", "5", "--milestones", "2", "--amounts", "75,75"),
    ("--budget", "150", "--days", "5", "--milestones", "2", "--cancel-prob", "0.1", "--calibrate"),
])
def test_argument_conflicts_exit_2(cli, args):
    assert cli("split", *args).code == 2


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_calibrate_from_a_known_history(cli, tmp_path):
    db = known_history(tmp_path)
    before = _digest(db)
    doc = cli("split", "--budget", "150", "--days", "10", "--milestones", "1", "--calibrate", "--platform", "direct",
              "--json", db=db).json()
    assert _digest(db) == before  # calibration only reads
    single = doc["calibration"]["single_payment"]
    assert single["fallback"] is False
    assert single["cancelled"] == 10
    # the 3 active contracts started on START, long ago: still open past their planned end, they
    # survived it, so 33 of 43 reach it (as today is far beyond START + PLANNED days)
    assert dt.date.today() > START + dt.timedelta(days=PLANNED)
    assert single["risk"]["cancel_prob"] == pytest.approx(10 / 43)
    assert doc["risk"]["single_payment"]["source"] == "calibrated"
    assert doc["single_payment"]["prob_paid_nothing"] == pytest.approx(10 / 43)
    assert doc["plan"]["prob_paid_nothing"] == pytest.approx(10 / 43)  # one milestone = the single payment


def test_calibrate_takes_the_as_of_date_for_active_contracts(cli, tmp_path):
    """30 completed and 10 single-payment contracts cancelled halfway through 1,000 planned days, and one active
    contract started with them. As of today it has run past its planned end: at risk halfway, 10 of 41 cancel
    (p = 10/41). As of --today 2020-03-11 (day 70, 0.07 of the way) it is censored before the cancellations:
    10 of 40 (p = 0.25)."""
    from tests.test_splitter import _history_rows, _workspace

    planned_end = START + dt.timedelta(days=PLANNED)
    rows = _history_rows([0.5] * 10, completed=30)
    rows.append(["SA0", "upwork", "fixed", 150, "USD", START, planned_end, "", "active", 1])
    db = _workspace(tmp_path, rows)
    args = ("split", "--budget", "150", "--days", "5", "--milestones", "1", "--calibrate", "--json")
    now = cli(*args, db=db).json()["calibration"]["plan"]["risk"]["cancel_prob"]
    then = cli(*args, "--today", "2020-03-11", db=db).json()["calibration"]["plan"]["risk"]["cancel_prob"]
    assert now == pytest.approx(10 / 41)
    assert then == pytest.approx(10 / 40)
    bad = cli(*args, "--today", "someday", db=db)
    assert bad.code == 2 and "--today" in bad.err
    # As of the day before they all started, the active one had not begun: not part of that history, and not
    # "without usable dates" (it has them); the 40 finished ones are what there is (10 of 40).
    before = cli(*args, "--today", "2019-12-31", db=db).json()["calibration"]["plan"]
    assert before["risk"]["cancel_prob"] == pytest.approx(10 / 40)
    assert "estimated from 40 single-payment contracts" in before["message"]
    assert "without usable dates" not in before["message"]


def test_calibrate_plan_uses_milestone_contracts(cli, tmp_path):
    db = known_history(tmp_path)
    doc = cli("split", "--budget", "150", "--days", "10", "--milestones", "3", "--calibrate", "--platform", "direct",
              "--json", db=db).json()
    assert doc["calibration"]["plan"]["structure"] == "milestones"
    assert doc["calibration"]["plan"]["risk"]["cancel_prob"] == pytest.approx(0.5)  # 15 of 30
    assert doc["single_payment"]["expected_net"] == pytest.approx(150 * 33 / 43)
    # 50 % against 23 %, each measured on other clients: said to be observed, not caused
    assert doc["calibration"]["caveat"].startswith("the two risks are what your past milestone and single-payment")
    text = cli("split", "--budget", "150", "--days", "10", "--milestones", "3", "--calibrate", "--platform", "direct",
               db=db).out
    assert "Note: the two risks are what your past milestone" in text


def test_calibrate_says_how_long_the_clients_took_to_pay_and_leaves_the_review_time_to_the_user(cli, tmp_path):
    db = handins_history(tmp_path)
    args = ("split", "--budget", "200", "--days", "20", "--milestones", "2", "--calibrate")
    doc = cli(*args, "--json", db=db).json()
    assert doc["calibration"]["review"] == {
        "platform": "upwork", "handins": 40, "median_days": 2.0, "p25_days": 1.0, "p75_days": 5.75,
        "message": "your clients on Upwork paid a fixed-price hand-in a median 2 days after it (the middle half "
                   "within 1–5.75 days; 40 hand-ins)"}
    # Not applied by itself: due on days 10 and 20, withdrawable after Upwork's 14 days and 5-day hold.
    assert [m["expected_release_day"] for m in doc["milestones"]] == [29.0, 39.0]
    text = cli(*args, db=db).out
    assert ("This plan assumes 14 days, the platform's longest; plan with it: --review-days 2.") in text
    chosen = cli(*args, "--review-days", "2", "--json", db=db).json()
    assert [m["expected_release_day"] for m in chosen["milestones"]] == [17.0, 27.0]  # 10 + 2 + 5, 20 + 2 + 5
    assert "Review time:" not in cli(*args, "--review-days", "2", db=db).out
    direct = cli(*args, "--platform", "direct", db=db).out
    assert ("Review time: only 2 paid fixed-price hand-ins with both dates from your direct clients (need 30): too few "
            "to say how long they take to pay. This plan assumes payment on the day of the hand-in (the platform sets "
            "no review window).") in direct


def test_calibrate_falls_back_on_an_empty_workspace(cli, db_path):
    from analysis import store

    store.connect(db_path).close()
    result = cli(*SEED, "--calibrate", "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["calibration"]["plan"]["fallback"] is True
    assert "no finished milestone contracts of 75.00–300.00 with a planned end date (need 30)" in doc["calibration"]["plan"]["message"]
    assert doc["risk"]["plan"]["source"] == "default"


def test_calibrate_without_a_workspace_is_refused(cli, tmp_path):
    result = cli(*SEED, "--calibrate", db=tmp_path / "none.duckdb")
    assert result.code == 2
    assert "no workspace to calibrate from" in result.err
    assert not (tmp_path / "none.duckdb").exists()


def test_calibrate_compares_like_with_like_when_one_side_falls_back(cli, tmp_path):
    """40 finished singles give 25 %; 5 finished milestone contracts are too few: both sides take
    the stated 10 % default, and the plan's expected net is then the single payment's model too."""
    from tests.test_splitter import _history_rows, _workspace, constant_fractions

    db = _workspace(tmp_path, _history_rows(constant_fractions())
                    + _history_rows([0.1] * 3, prefix="M", completed=2, milestone_count=3))
    doc = cli("split", "--budget", "150", "--days", "10", "--milestones", "3", "--calibrate", "--platform", "direct",
              "--json", db=db).json()
    assert doc["calibration"]["plan"]["fallback"] is True and doc["calibration"]["single_payment"]["fallback"] is False
    plan, single = doc["risk"]["plan"], doc["risk"]["single_payment"]
    assert [(r["cancel_prob"], r["hazard_shape"], r["source"]) for r in (plan, single)] == [(0.1, 1.0, "default")] * 2
    # Each side states its own evidence: 5 milestone contracts (3 cancelled) on the plan's, 40 on the single payment's.
    assert (plan["contracts"], plan["cancelled"], single["contracts"], single["cancelled"]) == (5, 3, 40, 10)
    assert "only 5 finished milestone contracts of 75.00–300.00 USD with a planned end date (3 cancelled; need 30)" \
        in plan["note"]
    assert single["note"].startswith("the default too (10% cancel before the end, constant hazard), as the plan's "
                                     "side has too little history")
    assert "(this side alone: estimated from 40 single-payment contracts" in single["note"]
    assert "25.0% cancel before the end" in single["note"]
    text = cli("split", "--budget", "150", "--days", "10", "--milestones", "3", "--calibrate", "--platform", "direct",
               db=db).out
    assert "Risk (plan, default): only 5 finished milestone contracts" in text
    assert "Risk (single payment, default): the default too" in text
    assert doc["single_payment"]["prob_paid_nothing"] == pytest.approx(0.1)  # cancelled before the one hand-in
    assert doc["calibration"]["caveat"] is None  # one stated default on both sides: nothing observed to caveat


def test_a_certain_cancellation_says_what_the_model_makes_of_it(cli):
    """--cancel-prob 1: the client cancels at once in this model; "days to first cash 20" beside
    "paid nothing 100 %" contradicted it, and nothing said why both plans pay nothing."""
    result = cli("split", "--budget", "150", "--days", "5", "--milestones", "5", "--cancel-prob", "1", db=None)
    assert result.code == 0
    assert "At 100 % the model has the client cancel at once, before any hand-in: nothing is paid under any plan." in result.out
    first_cash = next(line for line in result.out.splitlines() if line.startswith("days to first cash"))
    assert first_cash.split()[-2:] == ["—", "—"]
    doc = cli("split", "--budget", "150", "--days", "5", "--milestones", "5", "--cancel-prob", "1", "--json", db=None).json()
    assert doc["plan"]["prob_paid_nothing"] == 1.0 and doc["plan"]["expected_net"] == 0.0


def test_a_certain_cancellation_recommends_nothing(cli):
    """At 100 % every plan pays nothing (S(t) = 0 for t > 0), yet 4 milestones were recommended for 150 at 25 %."""
    result = cli("split", "--budget", "150", "--days", "5", "--milestones", "5", "--cancel-prob", "1", db=None)
    assert ("Recommendation: none: every plan pays nothing under this risk (the client cancels before the first "
            "hand-in), so no number of milestones protects you.") in result.out
    doc = cli("split", "--budget", "150", "--days", "5", "--milestones", "5", "--cancel-prob", "1", "--json", db=None).json()
    assert doc["recommendation"]["milestones"] is None
    assert all(row["prob_paid_nothing"] == 1.0 and row["expected_net"] == 0.0 for row in doc["recommendation"]["table"])
    # Just below it the client may still last a while: 0.99 ** (1.25 / 5) of them reach the first of 4 hand-ins.
    doc = cli("split", "--budget", "150", "--days", "5", "--milestones", "4", "--cancel-prob", "0.99", "--json", db=None).json()
    assert doc["recommendation"]["milestones"] == 4
    assert doc["milestones"][0]["prob_paid"] == pytest.approx(0.01 ** 0.25)


def test_fees_taking_most_of_the_plan_are_warned_about(cli):
    """20 × 3.00 on Freelancer.com: each fee is the whole 3.00 (10 % or 5.00, at most the payment)."""
    out = cli("split", "--budget", "60", "--days", "10", "--milestones", "20", "--platform", "freelancer", db=None).out
    assert ("Warning: fees take 60.00 of the 60.00 if every milestone is paid (100%): Freelancer.com's minimum fee of "
            "5.00 a payment (all of a smaller one), against 6.00 for one payment") in out
    doc = cli("split", "--budget", "60", "--days", "10", "--milestones", "20", "--platform", "freelancer", "--json",
              db=None).json()
    assert doc["recommendation"]["fee_note"] == ("the 5.00 minimum fee makes its fees 20.00 if all is paid, against "
                                                 "6.00 for one payment")
    assert "Warning: fees" not in cli("split", "--budget", "60", "--days", "10", "--milestones", "2", "--platform",
                                      "freelancer", db=None).out


def test_amounts_with_thousands_separators_get_a_hint(cli):
    result = cli("split", "--budget", "3000", "--days", "10", "--amounts", "1,500,1,500", db=None)
    assert result.code == 2
    assert ("the amounts add up to 1,002.00, not the budget 3,000.00; '1,500' looks like 1500 written with a thousands "
            "separator, but every comma separates two amounts: write amounts without one (1500, 1500)") in result.err
    # Only when reading them as thousands adds up to the budget: 100200 is not 1,000; 1000 is.
    result = cli("split", "--budget", "1000", "--days", "30", "--amounts", "100,200", db=None)
    assert result.code == 2 and result.err.strip() == ("milestone-lens: error: the amounts add up to 300.00, not the "
                                                       "budget 1,000.00")
    result = cli("split", "--budget", "1000", "--days", "30", "--amounts", "1,000", db=None)
    assert result.code == 2 and result.err.strip() == (
        "milestone-lens: error: amount 2 must be more than 0, got 0; '1,000' looks like 1000 written with a thousands "
        "separator, but every comma separates two amounts: write amounts without one (1000)")
    # Amounts that add up are taken as they are, commas and all (SPEC's --amounts A,B,..).
    assert cli("split", "--budget", "1000", "--days", "30", "--amounts", "100,250,650", db=None).code == 0


def test_money_in_the_recommendation_has_thousands_separators(cli):
    out = cli("split", "--budget", "10000000", "--days", "30", "--milestones", "4", db=None).out
    assert ("Recommendation: 4 milestones keep at most 2,500,000.00 of finished work unpaid (limit 25% of "
            "10,000,000.00).") in out


def test_calibrate_with_several_currencies_uses_the_one_of_them_with_most_fixed_price_contracts(cli, tmp_path):
    """`--currency EUR --currency GBP` took the last flag (GBP), and the dashboard with both picked fell
    back to the workspace's USD; both now take the report's pick among them, counted here by SQL."""
    db = tmp_path / "sample.duckdb"
    assert cli("sample", db=db).code == 0
    with duckdb.connect(str(db), read_only=True) as con:
        counts = dict(con.execute("SELECT currency, count(*) FROM contracts WHERE contract_type = 'fixed' "
                                  "AND currency IN ('EUR', 'GBP') GROUP BY ALL").fetchall())
    expected = max(counts, key=lambda c: (counts[c], c == "EUR"))  # a tie goes to EUR, alphabetically first
    args = ("split", "--budget", "500", "--days", "10", "--milestones", "3", "--calibrate", "--json")
    doc = cli(*args, "--currency", "gbp", "--currency", "EUR", db=db).json()
    assert doc["calibration"]["plan"]["currency"] == expected
    assert cli(*args, "--currency", "gbp", db=db).json()["calibration"]["plan"]["currency"] == "GBP"


def test_calibrate_warns_first_when_the_history_contradicts_the_default(cli, tmp_path):
    """40 milestone contracts all cancelled, none single-payment: the figures fall back to 10 % on both sides
    (P(paid nothing) 1 - 0.9 ** 0.5 = 5.1 %), and a warning line before the table says the history has 100 %."""
    from tests.test_splitter import every_milestone_contract_cancelled

    db = every_milestone_contract_cancelled(tmp_path)
    args = ("split", "--budget", "200", "--days", "10", "--milestones", "2", "--calibrate")
    doc = cli(*args, "--json", db=db).json()
    assert doc["plan"]["prob_paid_nothing"] == pytest.approx(1 - 0.9 ** 0.5)
    [warning] = doc["calibration"]["warnings"]
    assert warning.startswith("your history contradicts the assumed 10% risk: 40 of your 40 finished milestone "
                              "contracts were cancelled or disputed (an estimated 100.0% cancel before the end")
    assert warning.endswith("; to plan with it, give --cancel-prob 1")
    lines = cli(*args, db=db).out.splitlines()
    assert lines[1].startswith("WARNING: your history contradicts the assumed 10% risk: 40 of your 40")
    # a history that agrees with the default, or a risk given by hand, warns of nothing
    assert cli(*SEED, "--json").json().get("calibration") is None


def test_calibrate_counts_what_cancelled_single_payments_received(cli, tmp_path):
    """tests.test_splitter.partly_paid_history: p = 0.25, 4 of 10 cancelled received 60 of 150: the single payment
    is paid nothing with 0.25 × 0.6 = 0.15 and grosses 0.75 × 150 + 0.1 × 60 = 118.5 (not 0.25 and 112.5)."""
    from tests.test_splitter import partly_paid_history

    db = partly_paid_history(tmp_path)
    args = ("split", "--budget", "150", "--days", "5", "--milestones", "1", "--platform", "direct", "--calibrate")
    doc = cli(*args, "--json", db=db).json()
    single = doc["single_payment"]
    assert single["prob_paid_nothing"] == pytest.approx(0.15)
    assert single["expected_gross"] == pytest.approx(118.5)
    assert single["if_cancelled"]["source"] == "history"
    assert (single["if_cancelled"]["share_of_budget"], single["if_cancelled"]["prob_paid_something"]) == (0.16, 0.4)
    assert [d["probability"] for d in single["distribution"]] == pytest.approx([0.15, 0.1, 0.75])
    assert "Single payment if cancelled: your 10 cancelled or disputed single-payment contracts" in cli(*args, db=db).out
    # Without --calibrate the assumption stays, and is said.
    plain = cli(*SEED, "--json").json()["single_payment"]["if_cancelled"]
    assert plain["source"] == "assumed" and plain["share_of_budget"] == 0.0
    assert "Single payment if cancelled: a cancelled single payment is assumed to pay nothing" in cli(*SEED).out


def test_a_third_of_a_cent_over_the_limit_is_over_it(cli):
    """1,000 in 6 over 30 days, direct, paid 3 days after each hand-in, 2 days' wait between milestones: milestone 1
    (166.67) is handed in on day 5 and unpaid until day 8, while milestone 2 (166.67, days 7-12) is a fifth done
    on day 8: 166.67 + 166.67 / 5 = 200.004 at stake, over 20 % of 1,000; rounded to 200.00 it passed."""
    doc = cli("split", "--budget", "1000", "--days", "30", "--milestones", "6", "--platform", "direct",
              "--review-days", "3", "--wait-days", "2", "--max-loss-share", "0.2", "--cancel-prob", "0.1", "--json").json()
    assert doc["plan"]["max_loss"] == pytest.approx(166.67 + 166.67 / 5, abs=1e-6)
    assert doc["recommendation"]["milestones"] == 7


def test_a_certain_cancellation_on_one_side_is_said_of_that_side_only(cli, tmp_path):
    """The auditor's case B: plan 15 %, every single payment cancelled and paid nothing. "Nothing is paid under any
    plan" was said beside a plan earning most of its budget."""
    from tests.test_splitter import certain_single_history

    db = certain_single_history(tmp_path, every_plan_cancelled=False, single_paid="")
    out = cli(*SEED, "--calibrate", db=db).out
    assert ("At the single payment's 100 % the model has the client cancel at once, before its hand-in: the single "
            "payment pays nothing.") in out
    assert "under any plan" not in out
    doc = cli(*SEED, "--calibrate", "--json", db=db).json()
    assert doc["single_payment"]["expected_net"] == 0.0 and doc["plan"]["expected_net"] > 100
    assert doc["recommendation"]["milestones"] == 4  # 37.50 of 150 within 25 %; the plan does pay


def test_every_contract_cancelled_and_single_payments_paid_in_part(cli, tmp_path):
    """The auditor's case A: both sides all cancelled, single payments paid half of 150. The single payment brings
    75.00 less the 10 % fee = 67.50 for certain, withdrawable on day 5 + 14 + 5 = 24 (first cash too); every plan of
    milestones pays nothing, so none is recommended (4 was, sure to pay nothing)."""
    from tests.test_splitter import certain_single_history

    db = certain_single_history(tmp_path, every_plan_cancelled=True, single_paid=75)
    doc = cli(*SEED, "--calibrate", "--json", db=db).json()
    single = doc["single_payment"]
    assert (single["expected_net"], single["prob_paid_nothing"], single["days_to_first_cash"]) == (67.5, 0.0, 24.0)
    assert doc["recommendation"]["milestones"] is None
    out = cli(*SEED, "--calibrate", db=db).out
    assert next(line for line in out.splitlines() if line.startswith("days to first cash")).split()[-2:] == ["—", "24.0"]
    assert ("At 100 % the model has the client cancel at once, before any hand-in: a plan of milestones pays "
            "nothing; the single payment brings only what your cancelled single payments received (50.0% of the "
            "budget on average).") in out
    assert ("Recommendation: none: every plan of milestones pays nothing under this risk (the client cancels before "
            "the first hand-in), so no number of milestones protects you; only the single payment brings anything "
            "(expected 67.50 after fees, what your cancelled single payments still received), and it leaves 150.00 "
            "at stake, more than 25% of the budget.") in out


def test_calibrate_refuses_a_currency_the_workspace_has_no_contract_in(cli, tmp_path):
    """known_history has USD contracts only: --currency XYZ calibrated on nothing and gave the 10 % default quietly."""
    db = known_history(tmp_path)
    result = cli(*SEED, "--calibrate", "--currency", "XYZ", "--json", db=db)
    assert (result.code, result.out) == (2, "")
    assert result.err.strip() == ("milestone-lens: error: the workspace has no XYZ contracts to calibrate from; its "
                                  "currencies are USD")
    assert cli(*SEED, "--calibrate", "--currency", "usd", "--json", db=db).code == 0
