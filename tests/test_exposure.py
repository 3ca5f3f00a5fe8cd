"""Portfolio exposure on the hand-checked fixture (tests/fixtures/analysis/README.md).

Active USD contracts: M4 (milestones, budget 400, 100 paid; milestone 2 submitted, 3 funded,
4 pending) and S4 (single, budget 500, its one milestone funded). Finished history over the
whole workspace: 10 contracts, 5 of them cancelled or disputed (M2, M3, S2, S3, E2).
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import exposure
from analysis.filters import Filters
from tests.fixtures.analysis.helpers import import_fixture

USD = Filters(currency="USD")


@pytest.fixture
def fixture_con(con):
    import_fixture(con)
    return con


def test_remaining_funded_unfunded_submitted(fixture_con):
    e = exposure.exposure(fixture_con, Filters()).set_index("currency")
    usd = e.loc["USD"]
    assert (usd["active"], usd["valued"], usd["hourly_active"]) == (2, 2, 0)
    assert usd["remaining"] == 300 + 500
    assert usd["funded"] == 200 + 500  # M4 milestones 2 and 3 in escrow; S4 funded
    assert usd["unfunded"] == 100  # M4 milestone 4
    assert usd["submitted"] == 100  # M4 milestone 2 awaits release
    assert "EUR" not in e.index  # no active EUR contract


def test_expected_loss_falls_back_to_all_history_when_groups_are_small(fixture_con):
    e = exposure.exposure(fixture_con, USD).iloc[0]
    # every group has fewer than 30 finished: all 10 finished contracts, 5 cancelled -> 0.5
    assert e["expected_loss"] == pytest.approx((300 + 500) * 0.5)
    assert e["fewest_finished"] == 10 and e["no_history"] == 0
    assert exposure.rough_history(e) == 10
    assert exposure.expected_loss_caveat(e) == (
        "The expected loss rests on only 10 finished contracts of every kind, not on similar ones (no group of similar "
        "contracts has 30 finished): a rough guide, not an estimate to rely on.")
    basis = exposure.probability_basis(fixture_con, USD).set_index("basis")["contracts"].to_dict()
    assert basis == {"all": 2}


def test_expected_loss_uses_the_narrowest_group_with_enough_history(fixture_con):
    contracts = exposure.active_contracts(fixture_con, USD, min_history=1).set_index("contract_id")
    # M4: USD milestones in band 100–499: M1, M2, M3 finished, 2 cancelled -> 2/3
    assert contracts.loc["M4", "p_cancel"] == pytest.approx(2 / 3)
    assert contracts.loc["M4", "p_basis"] == "structure_budget_band"
    assert contracts.loc["M4", "p_finished"] == 3
    # S4 (500, band 500–999): no finished USD single there -> any single: S1, S2, S3, S5, E2, 3 cancelled
    assert contracts.loc["S4", "p_cancel"] == pytest.approx(3 / 5)
    assert contracts.loc["S4", "p_basis"] == "structure"
    assert list(contracts.index) == ["S4", "M4"]  # largest expected loss first: 300 vs 200
    total = exposure.exposure(fixture_con, USD, min_history=1).iloc[0]
    assert total["expected_loss"] == pytest.approx(300 * 2 / 3 + 500 * 3 / 5)


def test_a_level_with_exactly_min_history_finished_contracts_is_used(fixture_con):
    """Finished history by level (the whole workspace, filters do not narrow it):
    USD milestones in band 100–499: M1, M2, M3 (M2, M3 cancelled) -> 3 finished, 2 cancelled;
    any milestones: M1, M2, M3, E1 -> 4 finished, 2 cancelled;
    any single: S1, S2, S3, S5, E2 (S2, S3, E2 cancelled) -> 5 finished, 3 cancelled;
    USD single in band 500–999 (S4's): none; all: 10 finished, 5 cancelled."""
    at_three = exposure.active_contracts(fixture_con, USD, min_history=3).set_index("contract_id")
    # M4's band has exactly 3 finished: enough at min_history=3
    assert at_three.loc["M4", "p_basis"] == "structure_budget_band"
    assert at_three.loc["M4", "p_cancel"] == pytest.approx(2 / 3)
    assert at_three.loc["M4", "p_finished"] == 3
    at_five = exposure.active_contracts(fixture_con, USD, min_history=5).set_index("contract_id")
    # S4: no band history, singles have exactly 5 finished: enough at min_history=5
    assert at_five.loc["S4", "p_basis"] == "structure"
    assert at_five.loc["S4", "p_cancel"] == pytest.approx(3 / 5)
    assert at_five.loc["S4", "p_finished"] == 5
    # M4: band 3 and milestones 4 are both below 5 -> all finished contracts
    assert at_five.loc["M4", "p_basis"] == "all"
    assert at_five.loc["M4", "p_cancel"] == pytest.approx(0.5)
    assert at_five.loc["M4", "p_finished"] == 10


def test_escrow_is_capped_at_the_remaining_value(fixture_con):
    """M4 with a budget of 150: 100 paid leaves 50; milestones 2 (submitted) and 3 (funded) hold
    200 in escrow, but only the 50 still owed counts as funded (0 unfunded), and of the 100
    submitted only those 50."""
    fixture_con.execute("UPDATE contracts SET budget = 150 WHERE contract_id = 'M4'")
    m4 = exposure.active_contracts(fixture_con, USD).set_index("contract_id").loc["M4"]
    assert (m4["paid"], m4["remaining"]) == (100, 50)
    assert (m4["funded"], m4["unfunded"], m4["submitted"]) == (50, 0, 50)


def test_exposure_by_client_and_freelancer(fixture_con):
    by_client = exposure.exposure(fixture_con, USD, by="client").set_index("client")
    assert by_client.loc["Gamma", "remaining"] == 300 and by_client.loc["Beta", "remaining"] == 500
    by_person = exposure.exposure(fixture_con, USD, by="freelancer").set_index("freelancer")
    assert list(by_person.index) == ["Ann"] and by_person.loc["Ann", "remaining"] == 800


def test_hourly_and_unknown_budget_are_counted_not_valued(fixture_con):
    fixture_con.execute("UPDATE contracts SET status = 'active', end_date = NULL WHERE contract_id = 'H1'")
    fixture_con.execute("UPDATE contracts SET budget = NULL WHERE contract_id = 'S4'")
    e = exposure.exposure(fixture_con, USD).iloc[0]
    assert (e["active"], e["hourly_active"], e["budget_unknown"], e["valued"]) == (3, 1, 1, 1)
    assert e["remaining"] == 300 and e["funded"] == 200


def test_no_history_means_no_expected_loss(con, tmp_path):
    from tests.fixtures.analysis.helpers import contract, import_contracts

    import_contracts(con, tmp_path, [contract("A", "active", "milestones")])
    e = exposure.exposure(con, Filters()).iloc[0]
    # Unknown, not 0: nothing has finished to say how often contracts are cancelled.
    assert e["remaining"] == 100 and pd.isna(e["expected_loss"]) and e["no_history"] == 1
    assert exposure.expected_loss_caveat(e) == ("The expected loss is unknown: no contract in the history has finished "
                                                "to estimate it from.")
    assert exposure.probability_basis(con, Filters()).set_index("basis")["contracts"].to_dict() == {"no history": 1}


def test_concentration_of_earnings_on_clients(fixture_con):
    conc = exposure.concentration(fixture_con, Filters()).set_index("currency")
    usd = conc.loc["USD"]
    # gross by client: Acme 500, Gamma 400, Beta 100, Echo 60 of 1060
    assert usd["clients"] == 4 and usd["largest_client"] == "Acme"
    assert usd["largest_share"] == pytest.approx(500 / 1060)
    assert usd["hhi"] == pytest.approx((500**2 + 400**2 + 100**2 + 60**2) / 1060**2)
    assert conc.loc["EUR", "hhi"] == pytest.approx(1.0)  # one client
    top = exposure.top_clients(fixture_con, USD, limit=2)
    assert list(top["client"]) == ["Acme", "Gamma"]
    assert top["share"].tolist() == pytest.approx([500 / 1060, 400 / 1060])


def test_unnamed_clients_are_left_out_of_concentration_and_shown(fixture_con):
    fixture_con.execute("UPDATE contracts SET client = NULL WHERE contract_id = 'S1'")
    usd = exposure.concentration(fixture_con, USD).iloc[0]
    assert usd["unattributed_gross"] == 300
    assert usd["largest_client"] == "Gamma"
    assert usd["largest_share"] == pytest.approx(400 / 760)


def test_empty_workspace(con):
    assert exposure.exposure(con, Filters()).empty
    assert exposure.concentration(con, Filters()).empty
    assert exposure.active_contracts(con, Filters()).empty


# --- funding a transaction history cannot know ------------------------------------------------
# tests/fixtures/exports/upwork_2025_twelve_contracts.csv: an Upwork 2025 transaction history of 11
# paid contracts, completed by upwork_2025_twelve_completions.csv. The one active contract, Delta /
# Dashboard build, has budget 2,400 and one milestone paid (800): 1,600 remain, and nothing in the
# export says whether any of it is in escrow.
def _twelve(con):
    from analysis.importing import import_files
    from tests.conftest import FIXTURES

    exports = FIXTURES / "exports"
    import_files(con, [exports / "upwork_2025_twelve_contracts.csv", exports / "upwork_2025_twelve_completions.csv"])
    return con


def test_funding_of_contracts_from_a_transaction_history_is_unknown_not_0(con):
    e = exposure.exposure(_twelve(con), Filters()).iloc[0]
    assert (e["active"], e["valued"], e["remaining"]) == (1, 1, 1600)
    assert pd.isna(e["funded"]) and pd.isna(e["unfunded"])  # was 0 and 1,600: stated as fact
    assert (e["funding_unknown"], e["funding_unknown_remaining"]) == (1, 1600)
    row = exposure.active_contracts(con, Filters()).set_index("contract_id").loc["Delta / Dashboard build"]
    assert row["remaining"] == 1600 and pd.isna(row["funded"]) and pd.isna(row["unfunded"])
    assert exposure.funding_caveat(e).startswith("Escrow funding is unknown for 1 active contract (1,600.00 of the remaining)")


def test_a_milestones_file_saying_what_is_funded_makes_funding_known(con, tmp_path):
    _twelve(con)
    # Milestones 2 and 3 of the Delta contract (800 each): 2 funded, 3 not yet (pending).
    ms = tmp_path / "milestones.csv"
    ms.write_text("contract_id,seq,amount,funded_date,status\n"
                  "Delta / Dashboard build,2,800,2026-11-24,funded\nDelta / Dashboard build,3,800,,pending\n")
    from analysis.importing import import_files

    import_files(con, [ms], fmt="canonical", source="upwork")
    e = exposure.exposure(con, Filters()).iloc[0]
    assert (e["remaining"], e["funded"], e["unfunded"], e["funding_unknown"]) == (1600, 800, 800, 0)
    assert exposure.funding_caveat(e) is None


def test_template_contracts_keep_known_funding(fixture_con):
    e = exposure.exposure(fixture_con, USD).iloc[0]
    assert (e["funding_unknown"], e["funding_unknown_remaining"]) == (0, 0)
    assert (e["funded"], e["unfunded"]) == (700, 100)


# --- ordering when the expected loss cannot rank ------------------------------------------------
# Active contracts only, nothing paid: Anna Hourly has only hourly work (counted, not valued); Bo Small a fixed
# 100, Cy Big a fixed 900, Di Mid a fixed 500 (remaining = budget). Alphabetical order is the reverse of
# remaining, so a ranking that falls back on the name shows it.
def _four_clients(con, folder):
    from tests.fixtures.analysis.helpers import import_rows

    rows = [{"contract_id": "H", "client": "Anna Hourly", "contract_type": "hourly", "budget": ""},
            {"contract_id": "B", "client": "Bo Small", "budget": "100"},
            {"contract_id": "C", "client": "Cy Big", "budget": "900"},
            {"contract_id": "D", "client": "Di Mid", "budget": "500"}]
    import_rows(con, folder, [{"status": "active", "start_date": "2026-01-05", **r} for r in rows])


def test_groups_without_an_expected_loss_are_ranked_by_what_is_still_to_be_paid(con, tmp_path):
    """No finished history: every valued group's expected loss is unknown (NULL), the hourly-only one's 0. They
    came hourly first, then by name, so the head of the list (report --json's 20) dropped the most money at stake."""
    _four_clients(con, tmp_path)
    by_client = exposure.exposure(con, Filters(), by="client")
    assert list(by_client["client"]) == ["Cy Big", "Di Mid", "Bo Small", "Anna Hourly"]
    assert list(by_client["remaining"]) == [900, 500, 100, 0]
    assert by_client["expected_loss"].isna().tolist() == [True, True, True, False]  # still unknown, not made 0


def test_groups_whose_expected_loss_is_0_are_ranked_by_what_is_still_to_be_paid(con, tmp_path):
    """Two finished contracts, both completed: every probability is 0/2 = 0, so every expected loss is 0."""
    from tests.fixtures.analysis.helpers import import_rows

    _four_clients(con, tmp_path)
    (tmp_path / "more").mkdir()
    import_rows(con, tmp_path / "more", [
        {"contract_id": f"F{i}", "client": "Old", "budget": "100", "status": "completed", "start_date": "2025-01-05",
         "end_date": "2025-02-05"} for i in (1, 2)])
    by_client = exposure.exposure(con, Filters(), by="client")
    assert list(by_client["client"]) == ["Cy Big", "Di Mid", "Bo Small", "Anna Hourly"]
    assert list(by_client["expected_loss"]) == [0, 0, 0, 0]


def test_an_active_hourly_contract_shows_what_its_invoices_paid_and_no_probability(fixture_con, tmp_path):
    """H9 (hourly, active) has three paid invoices, 200 + 180.50 + 224.50 = 605.00, and one not paid yet (150).
    It showed paid 0.00 (paid toward a budget leaves hourly invoices out) and a cancellation probability, though
    hourly contracts are never valued. M4 (fixed, 100 of 400 paid; see the module docstring) is unchanged."""
    from tests.fixtures.analysis.helpers import import_rows

    import_rows(fixture_con, tmp_path, [{"contract_id": "H9", "client": "Gamma", "contract_type": "hourly",
                                         "budget": "", "status": "active", "start_date": "2026-02-02"}],
                [{"contract_id": "H9", "seq": str(i), "amount": amount, "submitted_date": "2026-02-09",
                  "paid_date": paid, "status": "paid" if paid else "submitted"}
                 for i, (amount, paid) in enumerate([("200", "2026-02-10"), ("180.50", "2026-02-17"),
                                                     ("224.50", "2026-02-24"), ("150", "")], 1)])
    rows = exposure.active_contracts(fixture_con, USD, limit=None).set_index("contract_id")
    hourly = rows.loc["H9"]
    assert hourly["paid"] == 605
    assert pd.isna(hourly["budget"]) and pd.isna(hourly["remaining"]) and pd.isna(hourly["expected_loss"])
    assert pd.isna(hourly["p_cancel"]) and pd.isna(hourly["p_basis"]) and pd.isna(hourly["p_finished"])
    assert (rows.loc["M4", "paid"], rows.loc["M4", "p_basis"]) == (100, "all")
    assert list(rows.index) == ["S4", "M4", "H9"]  # expected loss 250, 150; the hourly one, not valued, last


def test_an_hourly_contract_with_a_budget_is_not_valued_and_leaves_the_expected_loss_known(fixture_con, tmp_path):
    """The template lets an hourly contract carry a budget: its remaining 2,000 was counted with no
    probability beside it, so the currency's expected loss turned unknown ("no contract in the history has
    finished"). By hand: still (300 + 500) × 0.5 = 400, as without H8; H8 was paid 600 by its invoices."""
    from tests.fixtures.analysis.helpers import import_rows

    import_rows(fixture_con, tmp_path, [{"contract_id": "H8", "client": "Gamma", "contract_type": "hourly",
                                         "budget": "2000", "status": "active", "start_date": "2026-02-02"}],
                [{"contract_id": "H8", "seq": str(i), "amount": amount, "submitted_date": "2026-02-09",
                  "paid_date": "2026-02-10", "status": "paid"} for i, amount in enumerate(["400", "200"], 1)])
    usd = exposure.exposure(fixture_con, USD).iloc[0]
    assert usd["expected_loss"] == pytest.approx((300 + 500) * 0.5)
    assert usd["remaining"] == 300 + 500
    hourly = exposure.active_contracts(fixture_con, USD, limit=None).set_index("contract_id").loc["H8"]
    assert hourly["paid"] == 600 and pd.isna(hourly["remaining"]) and pd.isna(hourly["p_cancel"])
