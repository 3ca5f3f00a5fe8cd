"""Earnings on the hand-checked fixture (tests/fixtures/analysis/README.md).

USD payments: milestones M1 5 × 30 (fee 3 each), M2 50 (5), M3 100 (10), M4 100 (0);
single S1 300 (30), S5 60 (0); hourly H1 200 (20) + 100 (10). EUR: E1 2 × 500 (50 each).
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import earnings
from analysis.filters import Filters
from tests.fixtures.analysis.helpers import import_fixture

USD = Filters(currency="USD")


@pytest.fixture
def fixture_con(con):
    import_fixture(con)
    return con


def add_payment(con, key: str, contract_id: str | None, kind: str, paid_date: str, gross: float, fee: float,
                currency: str = "USD", pending: bool = False, description: str = "") -> None:
    """A payment row as a transaction-history import stores it (bonus, refund, account cost, pending)."""
    con.execute(
        "INSERT INTO payments VALUES ('fixture', ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, 1, 1)",
        [key, contract_id, kind, paid_date, gross, fee, currency, pending, description],
    )


def test_gross_fees_net_by_structure_per_currency(fixture_con):
    t = earnings.totals(fixture_con, Filters(), by="structure").set_index(["currency", "structure"])
    assert tuple(t.loc[("USD", "milestones"), ["gross", "fees", "net"]]) == (400, 30, 370)
    assert tuple(t.loc[("USD", "single"), ["gross", "fees", "net"]]) == (360, 30, 330)
    assert tuple(t.loc[("USD", "hourly"), ["gross", "fees", "net"]]) == (300, 30, 270)
    assert t.loc[("USD", "milestones"), "payments"] == 8 and t.loc[("USD", "milestones"), "contracts"] == 4
    # EUR is never added to USD
    assert tuple(t.loc[("EUR", "milestones"), ["gross", "fees", "net"]]) == (1000, 100, 900)
    assert ("EUR", "single") not in t.index  # E2 was never paid
    assert t.loc[("USD", "milestones"), "effective_fee_rate"] == pytest.approx(30 / 400)


def test_totals_by_client_freelancer_and_month(fixture_con):
    clients = earnings.totals(fixture_con, USD, by="client").set_index("client")
    # Acme: M1 150 + M2 50 + S1 300 ; Gamma: M4 100 + H1 300 ; Beta: M3 100 ; Echo: S5 60 ; Delta: nothing paid
    assert clients["gross"].to_dict() == {"Acme": 500, "Gamma": 400, "Beta": 100, "Echo": 60}
    assert list(clients.index) == ["Acme", "Gamma", "Beta", "Echo"]  # largest first
    top = earnings.totals(fixture_con, USD, by="client", limit=2)
    assert list(top["client"]) == ["Acme", "Gamma"]
    people = earnings.totals(fixture_con, USD, by="freelancer").set_index("freelancer")
    # Ann: M1 150, M2 50, M4 100 ; Bob: M3 100, S1 300, H1 300 ; Cy: S5 60
    assert people["gross"].to_dict() == {"Bob": 700, "Ann": 300, "Cy": 60}
    assert people.loc["Bob", "fees"] == 10 + 30 + 30
    months = earnings.months(fixture_con, USD).set_index("month")
    # 2025-12: S5 60 ; 2026-01: M1 150, M2 50, S1 300, H1 300 ; 2026-02: M3 100 ; 2026-03: M4 100
    assert months["gross"].to_dict() == {"2025-12": 60, "2026-01": 800, "2026-02": 100, "2026-03": 100}
    assert months.loc["2026-01", "fees"] == 15 + 5 + 30 + 30


def test_months_without_payments_are_filled_with_zero(fixture_con):
    months = earnings.months(fixture_con, Filters(client="Gamma"))
    # H1 paid in 2026-01, M4 in 2026-03: February is there with nothing
    assert list(months["month"]) == ["2026-01", "2026-02", "2026-03"]
    assert list(months["gross"]) == [300, 0, 100]


def test_realised_vs_agreed(fixture_con):
    r = earnings.realised_vs_agreed(fixture_con, USD).set_index(["structure", "status"])
    assert tuple(r.loc[("milestones", "completed"), ["agreed", "paid", "realised_share"]]) == (150, 150, 1.0)
    assert tuple(r.loc[("milestones", "cancelled"), ["agreed", "paid", "realised_share"]]) == (100, 50, 0.5)
    assert tuple(r.loc[("milestones", "disputed"), ["agreed", "paid"]]) == (200, 100)
    assert tuple(r.loc[("milestones", "active"), ["agreed", "paid"]]) == (400, 100)
    assert tuple(r.loc[("single", "completed"), ["contracts", "agreed", "paid"]]) == (2, 360, 360)
    assert tuple(r.loc[("single", "cancelled"), ["contracts", "agreed", "paid", "realised_share"]]) == (2, 200, 0, 0.0)
    assert "hourly" not in r.index.get_level_values(0)  # no agreed total


def test_realised_vs_agreed_knows_nothing_of_a_group_without_budgets(con):
    """Milestone contracts of a transaction history (no budget, no status) that were paid once
    showed "agreed 0.00, paid 0.00": both are unknown, not zero."""
    from analysis.importing import import_files
    from tests.conftest import FIXTURES

    import_files(con, [FIXTURES / "exports" / "upwork_transactions_2025.csv"])
    r = earnings.realised_vs_agreed(con, Filters()).set_index(["structure", "status"])
    unknown = r.loc[("milestones", "unknown")]
    assert unknown["contracts"] == unknown["budget_unknown"] > 0
    assert pd.isna(unknown["agreed"]) and pd.isna(unknown["paid"]) and pd.isna(unknown["realised_share"])
    # Once a budget is known, the sums are of the contracts with one.
    # Ember Foods' two milestones of 450: the first released, the second pending (empty balance).
    from analysis.completions import complete_contract

    complete_contract(con, "upwork", "Ember Foods / Brand guidelines", status="completed", budget=900.0)
    done = earnings.realised_vs_agreed(con, Filters()).set_index(["structure", "status"]).loc[("milestones", "completed")]
    assert tuple(done[["contracts", "budget_unknown", "agreed", "paid", "realised_share"]]) == (1, 0, 900.0, 450.0, 0.5)


def test_paid_when_cancelled_gives_counts_below_30_a_side(fixture_con):
    """Two cancelled or disputed contracts a side (M2 and M3: 150 of 300 paid; S2 and S3: 0 of 200): counts and
    amounts, no "50 % against 0 %"."""
    realised = earnings.realised_vs_agreed(fixture_con, USD)
    assert earnings.paid_when_cancelled_sentence(realised, "USD") == (
        "The 2 cancelled or disputed milestone contracts: USD 150 of 300 paid; the 2 cancelled or disputed "
        "single-payment contracts: USD 0 of 200 paid. Too few to compare what milestone and single-payment contracts "
        "still paid when cancelled: that needs at least 30 cancelled or disputed contracts of each kind with a known "
        "budget.")


def ended(milestones: tuple[int, int, float, float], single: tuple[int, int, float, float]) -> pd.DataFrame:
    """``realised_vs_agreed`` rows of cancelled contracts: (contracts, budget_unknown, agreed, paid) a side."""
    return pd.DataFrame([("USD", s, "cancelled", *v) for s, v in (("milestones", milestones), ("single", single))],
                        columns=["currency", "structure", "status", "contracts", "budget_unknown", "agreed", "paid"])


def test_paid_when_cancelled_compares_from_30_a_side_with_a_known_budget():
    both = ended((30, 0, 3000.0, 900.0), (30, 0, 6000.0, 600.0))
    assert earnings.paid_when_cancelled_sentence(both, strong=lambda t: f"**{t}**") == (
        "When a contract was cancelled or disputed, milestone contracts had still paid **30 %** of the agreed price, "
        "single-payment contracts **10 %**.")
    # 31 single-payment contracts, but 2 without a budget: 29 behind the amounts, too few.
    few = earnings.paid_when_cancelled_sentence(ended((30, 0, 3000.0, 900.0), (31, 2, 5800.0, 600.0)))
    assert few.startswith("The 30 cancelled or disputed milestone contracts: 900 of 3,000 paid; the 29 cancelled or "
                          "disputed single-payment contracts: 600 of 5,800 paid. Too few to compare")
    # One side only: its counts, nothing to compare it with.
    alone = earnings.paid_when_cancelled_sentence(ended((40, 0, 4000.0, 1000.0), (0, 0, 0.0, 0.0)))
    assert alone.startswith("The 40 cancelled or disputed milestone contracts: 1,000 of 4,000 paid. Too few")
    assert earnings.paid_when_cancelled_sentence(ended((0, 0, 0.0, 0.0), (0, 0, 0.0, 0.0))) is None


def test_unpaid_on_cancellation(fixture_con):
    u = earnings.unpaid_on_cancellation(fixture_con, Filters()).set_index(["currency", "structure"])
    # M2 100 - 50, M3 (disputed) 200 - 100
    assert u.loc[("USD", "milestones"), "unpaid_on_cancellation"] == 150
    assert u.loc[("USD", "milestones"), "cancelled_contracts"] == 2
    # S2 120 and S3 80, nothing paid
    assert u.loc[("USD", "single"), "unpaid_on_cancellation"] == 200
    assert u.loc[("EUR", "single"), "unpaid_on_cancellation"] == 400


def test_unknown_budget_is_counted_not_guessed(fixture_con):
    fixture_con.execute("UPDATE contracts SET budget = NULL WHERE contract_id = 'S2'")
    u = earnings.unpaid_on_cancellation(fixture_con, USD).set_index("structure")
    assert u.loc["single", "unpaid_on_cancellation"] == 80
    assert u.loc["single", "budget_unknown"] == 1
    r = earnings.realised_vs_agreed(fixture_con, USD).set_index(["structure", "status"])
    assert tuple(r.loc[("single", "cancelled"), ["contracts", "budget_unknown", "agreed"]]) == (2, 1, 80)


def test_overpaid_cancelled_contract_is_no_negative_loss(fixture_con):
    add_payment(fixture_con, "extra", "M2", "milestone", "2026-01-15", 80, 8)
    u = earnings.unpaid_on_cancellation(fixture_con, USD).set_index("structure")
    assert u.loc["milestones", "unpaid_on_cancellation"] == 100  # M2 paid 130 of 100 -> 0, M3 100


def test_bonuses_refunds_account_costs_and_pending(fixture_con):
    add_payment(fixture_con, "b1", "M1", "bonus", "2026-01-08", 20, 2)
    add_payment(fixture_con, "r1", "S1", "refund", "2026-01-20", -50, -5)
    add_payment(fixture_con, "w1", None, "account_cost", "2026-01-25", -2, 0, description="Withdrawal fee")
    add_payment(fixture_con, "c1", None, "account_cost", "2026-02-25", -15, 0, description="Connects")
    add_payment(fixture_con, "p1", "M4", "milestone", "2026-03-20", 100, 10, pending=True)
    t = earnings.totals(fixture_con, USD, by="structure").set_index("structure")
    assert t.loc["milestones", "bonuses"] == 20 and t.loc["milestones", "gross"] == 420
    assert t.loc["single", "refunds"] == -50 and t.loc["single", "gross"] == 310
    assert t.loc["single", "fees"] == 25
    total = earnings.totals(fixture_con, USD, by=None).iloc[0]
    assert total["gross"] == 1060 + 20 - 50  # account costs and pending are not earnings
    assert total["fees"] == 90 + 2 - 5
    costs = earnings.account_costs(fixture_con, USD).iloc[0]
    assert (costs["items"], costs["amount"]) == (2, -17)
    costs_jan = earnings.account_costs(fixture_con, Filters(date_to="2026-01-31")).iloc[0]
    assert costs_jan["amount"] == -2
    pend = earnings.pending(fixture_con, USD).iloc[0]
    assert (pend["items"], pend["gross"]) == (1, 100)
    # a bonus is not part of the budget: realised vs agreed of M1 is unchanged
    r = earnings.realised_vs_agreed(fixture_con, USD).set_index(["structure", "status"])
    assert r.loc[("milestones", "completed"), "paid"] == 150
    # the refund reduces what S1 was paid toward its budget
    assert r.loc[("single", "completed"), "paid"] == 360 - 50


def test_payment_in_another_currency_stays_apart(fixture_con):
    add_payment(fixture_con, "x1", "M1", "bonus", "2026-01-09", 10, 0, currency="GBP")
    t = earnings.totals(fixture_con, USD, by="structure")
    gbp = t[t.currency == "GBP"].set_index("structure")
    assert gbp.loc["milestones", "gross"] == 10
    assert t[(t.currency == "USD") & (t.structure == "milestones")]["gross"].iloc[0] == 400


def test_unknown_grouping_is_refused(fixture_con):
    with pytest.raises(ValueError):
        earnings.totals(fixture_con, USD, by="title; DROP TABLE payments")


def test_empty_workspace(con):
    assert earnings.totals(con, Filters()).empty
    assert earnings.months(con, Filters()).empty
    assert earnings.unpaid_on_cancellation(con, Filters()).empty
