"""The synthetic history: deterministic, and true to what ASSUMPTIONS documents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import sample, store
from analysis.importing import import_files
from analysis.platforms import UPWORK_REVIEW_DAYS, upwork_sliding_fee

N = 20_000


@pytest.fixture(scope="module")
def frames():
    return sample.generate(N, seed=5)


def test_deterministic_for_a_seed():
    a_c, a_m = sample.generate(500, seed=42)
    b_c, b_m = sample.generate(500, seed=42)
    pd.testing.assert_frame_equal(a_c, b_c)
    pd.testing.assert_frame_equal(a_m, b_m)
    c_c, _ = sample.generate(500, seed=43)
    assert not a_c["budget"].equals(c_c["budget"])


def test_shares_match_the_assumptions(frames):
    contracts, milestones = frames
    a = sample.ASSUMPTIONS
    hourly = (contracts.contract_type == "hourly").mean()
    assert abs(hourly - a["hourly_share"]) < 0.015
    fixed = contracts[contracts.contract_type == "fixed"]
    counts = milestones.groupby("contract_id").size()
    multi = (counts.reindex(fixed.contract_id) >= 2).mean()
    assert abs(multi - a["milestone_share_of_fixed"]) < 0.02
    for platform, share in a["platform_share"].items():
        assert abs((contracts.platform == platform).mean() - share) < 0.015


def test_milestone_amounts_add_up_to_the_budget_to_the_cent(frames):
    contracts, milestones = frames
    fixed = contracts[contracts.contract_type == "fixed"].set_index("contract_id")
    sums = (milestones.assign(c=np.round(milestones.amount * 100)).groupby("contract_id").c.sum())
    assert (sums.reindex(fixed.index) == np.round(fixed.budget * 100)).all()


def test_cancellation_depends_on_structure_as_documented(frames):
    contracts, milestones = frames
    counts = milestones.groupby("contract_id").size()
    structure = np.where(contracts.contract_type == "hourly", "hourly",
                         np.where(counts.reindex(contracts.contract_id).to_numpy() >= 2, "milestones", "single"))
    finished = contracts.status != "active"
    rate = pd.Series(contracts.status.isin(["cancelled", "disputed"]).to_numpy()[finished]).groupby(structure[finished]).mean()
    # ASSUMPTIONS: single-payment contracts are cancelled clearly more often than milestone ones.
    assert rate["single"] > rate["milestones"] * 1.4
    # A client's first contract with a freelancer is cancelled more often (cancel_new_client > 0).
    ordered = contracts.sort_values("start_date", kind="stable")
    new = ~ordered.duplicated(["client", "freelancer"])
    done = ordered.status != "active"
    cancelled = ordered.status.isin(["cancelled", "disputed"])
    assert cancelled[new & done].mean() > cancelled[~new & done].mean() * 1.2


def test_timing_rules(frames):
    contracts, milestones = frames
    paid = milestones.dropna(subset=["paid_date"])
    fixed_ids = set(contracts.contract_id[contracts.contract_type == "fixed"])
    fixed_paid = paid[paid.contract_id.isin(fixed_ids) & paid.submitted_date.notna()]
    lag = (fixed_paid.paid_date - fixed_paid.submitted_date).dt.days
    assert lag.min() >= 0 and lag.max() <= UPWORK_REVIEW_DAYS  # auto-release after 14 days
    today = pd.Timestamp(sample.ASSUMPTIONS["today"])
    assert (paid.paid_date <= today).all()
    assert (contracts.end_date.dropna() <= today).all()
    active = contracts.status == "active"
    assert active.sum() > 0 and contracts.end_date[active].isna().all()


def test_fees_follow_the_platform_rules(frames):
    contracts, milestones = frames
    m = milestones.dropna(subset=["paid_date"]).merge(contracts[["contract_id", "platform", "client", "freelancer"]], on="contract_id")
    flat = m[(m.platform == "upwork") & (m.paid_date >= "2023-05-03")]
    assert np.allclose(flat.fee, np.round(flat.paid_amount * 0.10, 2), atol=0.011)
    fl = m[m.platform == "freelancer"].merge(contracts[["contract_id", "contract_type"]], on="contract_id")
    minimum = np.where(fl.contract_type == "hourly", 0, np.minimum(5, fl.paid_amount))  # $5 on fixed-price work only
    assert np.allclose(fl.fee, np.round(np.maximum(fl.paid_amount * 0.10, minimum), 2), atol=0.011)
    assert (m[m.platform == "direct"].fee == 0).all()
    # The sliding fee, recomputed payment by payment for one client relationship.
    old = m[(m.platform == "upwork") & (m.paid_date < "2023-05-03")].sort_values(["paid_date"], kind="stable")
    pair = old.groupby(["client", "freelancer"]).size().idxmax()
    rows = old[(old.client == pair[0]) & (old.freelancer == pair[1])]
    billed = 0.0
    for amount, fee in zip(rows.paid_amount, rows.fee):
        assert abs(upwork_sliding_fee(amount, billed) - fee) < 0.011
        billed += amount


def test_bundled_sample_imports_cleanly(tmp_path):
    con = store.connect(tmp_path / "w.duckdb")
    summary = import_files(con, [store.SAMPLE_DIR / "contracts.csv", store.SAMPLE_DIR / "milestones.csv"])
    assert summary.imported["contracts"] == 2000
    # The bundled files are exactly what the generator writes for seed 7.
    c, m = sample.generate(2000, seed=7)
    assert summary.imported["milestones"] == len(m)
    assert con.execute("SELECT count(*) FROM contract_view WHERE structure = 'milestones'").fetchone()[0] > 400
