"""A realistic synthetic contract history, written as canonical CSVs.

Every assumption the generator makes is in ``ASSUMPTIONS`` below and nowhere else.
No published study gives cancellation rates by milestone count, so the cancellation
behaviour here is an assumption — chosen so the sample shows a visible difference between
milestone and single-payment contracts — and the dashboard always estimates risk from the
user's own history, never from these numbers.

The generator is vectorised (NumPy over whole columns, no Python loop over contracts), so
one million contracts take seconds, and deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from analysis.platforms import (
    FIVERR_SELLER_SHARE,
    FREELANCER_MIN_FEE,
    FREELANCER_RATE,
    UPWORK_EARLY_RATE,
    UPWORK_FLAT_FEE_FROM,
    UPWORK_FLAT_RATE,
    UPWORK_HOURLY_AVAILABLE_AFTER_WEEK_END_DAYS,
    UPWORK_REVIEW_DAYS,
    UPWORK_SLIDING_FEE_FROM,
    UPWORK_SLIDING_TIERS,
)

ASSUMPTIONS: dict = {
    # When contracts start: uniformly over this window; "today" decides what is still active.
    "first_start": dt.date(2019, 1, 1),
    "last_start": dt.date(2026, 11, 24),
    "today": dt.date(2026, 11, 25),
    # Histories grow: start dates are denser lately (offset = span * U ** growth_power), and
    # this share of contracts started in the last ``recent_days`` (so some are still active).
    "growth_power": 0.6,
    "recent_share": 0.05,
    "recent_days": 60,
    # Platforms and currencies.
    "platform_share": {"upwork": 0.60, "freelancer": 0.20, "direct": 0.15, "fiverr": 0.05},
    "currency_share": {"USD": 0.90, "EUR": 0.07, "GBP": 0.03},
    # Payment structure: hourly share of all contracts, milestone share of fixed-price ones.
    "hourly_share": 0.20,
    "milestone_share_of_fixed": 0.50,
    # Categories with the median fixed-price budget (lognormal, sigma below) and median
    # planned duration in days (lognormal too; bigger budgets run longer).
    "categories": {
        "writing": (250.0, 7.0), "design": (450.0, 10.0), "web development": (1200.0, 21.0),
        "data analysis": (700.0, 14.0), "translation": (300.0, 6.0), "marketing": (500.0, 14.0),
    },
    "budget_sigma": 0.8,
    "duration_sigma": 0.5,
    "duration_budget_elasticity": 0.35,
    "min_budget": 5.0,
    # Milestone counts for milestone contracts: 2 + Poisson(mean grows with log budget), at most 12.
    "milestone_count_base_mean": 1.2,
    "milestone_count_per_log_budget": 0.6,
    "max_milestones": 12,
    # Clients: a pool of this many contracts per client (zipf-like: a few clients give many).
    "contracts_per_client": 6,
    "contracts_per_freelancer": 150,
    # Cancellation: a logistic model of the probability a contract is cancelled at all.
    "cancel_intercept": {"single": -1.35, "milestones": -2.05, "hourly": -1.75},
    "cancel_per_log_budget": 0.22,   # per unit of log(budget / 500)
    "cancel_new_client": 0.45,       # added for a client's first contract
    "cancel_per_log_duration": 0.15,  # per unit of log(duration / 10)
    # When in the planned duration a cancellation happens: Beta(a, b) share of duration.
    "cancel_time_beta": (1.4, 1.8),
    "disputed_share_of_cancellations": 0.12,
    # Money timing: review lag after submission ~ exponential(mean) capped at Upwork's 14-day
    # auto-release; submission jitter around the due day; 5-day hold is applied by analyses.
    "review_lag_mean_days": 3.0,
    "review_lag_cap_days": UPWORK_REVIEW_DAYS,
    "submit_jitter_days": 2,
    # Hourly contracts: weekly invoices, rate and hours.
    "hourly_rate_median": 35.0,
    "hours_per_week_median": 12.0,
    # Bonuses are not generated; a few paid milestones get a partial release on cancellation.
    "partial_release_on_cancel": 0.3,
}

CONTRACT_HEADER = [
    "contract_id", "client", "freelancer", "title", "category", "platform", "contract_type",
    "budget", "currency", "start_date", "planned_end_date", "end_date", "status",
]
MILESTONE_HEADER = [
    "contract_id", "seq", "description", "amount", "due_date", "funded_date", "submitted_date",
    "paid_date", "paid_amount", "fee", "status",
]


def _pick(rng: np.random.Generator, shares: dict, n: int) -> np.ndarray:
    keys = np.array(list(shares))
    probs = np.array(list(shares.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=probs / probs.sum())]


def _zipf_ids(rng: np.random.Generator, n: int, pool: int) -> np.ndarray:
    """Ids in [0, pool) where a few ids occur often, as real client lists do."""
    weights = 1.0 / np.arange(1, pool + 1) ** 0.8
    return rng.choice(pool, size=n, p=weights / weights.sum())


def _split_cents(totals_cents: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Split each total into ``count`` near-equal parts that add up to the cent (remainder on the last)."""
    rep_total = np.repeat(totals_cents, counts)
    rep_count = np.repeat(counts, counts)
    base = rep_total // rep_count
    last = np.cumsum(counts) - 1
    out = base.copy()
    out[last] += totals_cents - base[last] * counts
    return out


def generate(contracts: int = 2000, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (contracts, milestones) DataFrames in the canonical template's columns."""
    a = ASSUMPTIONS
    rng = np.random.default_rng(seed)
    n = int(contracts)
    if n < 1:
        raise ValueError("contracts must be at least 1")
    today = np.datetime64(a["today"])
    first, last = np.datetime64(a["first_start"]), np.datetime64(a["last_start"])
    span = int((last - first).astype(int))
    offset = np.floor(span * rng.random(n) ** a["growth_power"]).astype(int)
    recent = rng.random(n) < a["recent_share"]
    offset[recent] = span - rng.integers(0, a["recent_days"], size=int(recent.sum()))
    start = first + offset.astype("timedelta64[D]")
    order = np.argsort(start, kind="stable")
    start = start[order]

    cat_names = np.array(list(a["categories"]))
    cat_idx = rng.integers(0, len(cat_names), size=n)
    cat_budget = np.array([v[0] for v in a["categories"].values()])[cat_idx]
    cat_days = np.array([v[1] for v in a["categories"].values()])[cat_idx]
    platform = _pick(rng, a["platform_share"], n)
    currency = _pick(rng, a["currency_share"], n)

    n_clients = max(3, n // a["contracts_per_client"])
    client_id = _zipf_ids(rng, n, n_clients)
    n_freelancers = max(2, n // a["contracts_per_freelancer"])
    freelancer_id = _zipf_ids(rng, n, n_freelancers)
    # New client: the first contract of this client with this freelancer (in start order).
    pair = client_id.astype(np.int64) * 1_000_003 + freelancer_id
    _, first_idx = np.unique(pair, return_index=True)
    new_client = np.zeros(n, dtype=bool)
    new_client[first_idx] = True

    is_hourly = rng.random(n) < a["hourly_share"]
    is_milestones = (~is_hourly) & (rng.random(n) < a["milestone_share_of_fixed"])
    budget = np.maximum(a["min_budget"], np.round(cat_budget * rng.lognormal(0, a["budget_sigma"], n), 0))
    duration = np.maximum(
        1, np.round(cat_days * (budget / cat_budget) ** a["duration_budget_elasticity"] * rng.lognormal(0, a["duration_sigma"], n))
    ).astype(int)
    k_mean = a["milestone_count_base_mean"] + a["milestone_count_per_log_budget"] * np.maximum(0, np.log(budget / 100))
    n_ms = np.where(is_milestones, np.minimum(2 + rng.poisson(k_mean), a["max_milestones"]), 1)
    n_ms = np.minimum(n_ms, np.maximum(1, duration))  # at most one milestone per day
    n_ms = np.where(is_milestones, np.maximum(n_ms, 2), n_ms)
    structure = np.where(is_hourly, "hourly", np.where(is_milestones, "milestones", "single"))

    # Cancellation.
    intercept = np.select([structure == "single", structure == "milestones"],
                          [a["cancel_intercept"]["single"], a["cancel_intercept"]["milestones"]],
                          a["cancel_intercept"]["hourly"])
    logit = (intercept + a["cancel_per_log_budget"] * np.log(budget / 500) + a["cancel_new_client"] * new_client
             + a["cancel_per_log_duration"] * np.log(duration / 10))
    cancelled = rng.random(n) < 1 / (1 + np.exp(-logit))
    cancel_share = rng.beta(*a["cancel_time_beta"], n)
    cancel_day = np.maximum(1, np.ceil(cancel_share * duration)).astype(int)
    disputed = cancelled & (rng.random(n) < a["disputed_share_of_cancellations"])

    planned_end = start + duration.astype("timedelta64[D]")
    delay = rng.integers(0, 3, size=n)
    natural_end = planned_end + delay.astype("timedelta64[D]")
    cancel_date = start + cancel_day.astype("timedelta64[D]")
    end = np.where(cancelled, cancel_date, natural_end)
    active = end > today
    status = np.where(active, "active", np.where(disputed, "disputed", np.where(cancelled, "cancelled", "completed")))
    cancelled_effective = cancelled & ~active

    ids = np.char.add("S", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    contracts_df = pd.DataFrame({
        "contract_id": ids,
        "client": np.char.add("Client ", np.char.zfill(client_id.astype(str), 4)),
        "freelancer": np.char.add("Freelancer ", np.char.zfill(freelancer_id.astype(str), 3)),
        "title": np.char.add(np.char.add(np.char.capitalize(cat_names[cat_idx].astype(str)), " job "), ids),
        "category": cat_names[cat_idx],
        "platform": platform,
        "contract_type": np.where(is_hourly, "hourly", "fixed"),
        "budget": np.where(is_hourly, np.nan, budget),
        "currency": currency,
        "start_date": start,
        "planned_end_date": planned_end,
        "end_date": np.where(active, np.datetime64("NaT"), end),
        "status": status,
    })

    # Milestones (fixed) and weekly invoices (hourly), one row each.
    weeks = np.where(is_hourly, np.maximum(1, np.ceil(duration / 7)).astype(int), 0)
    rows_per = np.where(is_hourly, weeks, n_ms)
    cidx = np.repeat(np.arange(n), rows_per)
    seq = np.arange(rows_per.sum()) - np.repeat(np.cumsum(rows_per) - rows_per, rows_per) + 1
    r_hourly = is_hourly[cidx]
    r_count = rows_per[cidx]
    # Amounts: fixed budgets split to the cent; hourly = hours x rate per week.
    amount_cents = np.zeros(len(cidx), dtype=np.int64)
    fixed_mask_c = ~is_hourly
    fixed_rows = ~r_hourly
    amount_cents[fixed_rows] = _split_cents(np.round(budget[fixed_mask_c] * 100).astype(np.int64), n_ms[fixed_mask_c])
    rate = np.round(a["hourly_rate_median"] * rng.lognormal(0, 0.35, n), 0)
    hours = np.round(a["hours_per_week_median"] * rng.lognormal(0, 0.5, len(cidx)) * 4) / 4
    amount_cents[r_hourly] = np.round(hours[r_hourly] * rate[cidx][r_hourly] * 100).astype(np.int64)

    r_start = start[cidx]
    r_duration = duration[cidx]
    due_offset = np.where(r_hourly, np.minimum(seq * 7, np.maximum(r_duration, 1)),
                          np.ceil(seq * r_duration / r_count)).astype(int)
    due = r_start + due_offset.astype("timedelta64[D]")
    jitter = rng.integers(-a["submit_jitter_days"], a["submit_jitter_days"] + 1, len(cidx))
    submitted = r_start + np.maximum(1, due_offset + jitter).astype("timedelta64[D]")
    lag = np.minimum(np.round(rng.exponential(a["review_lag_mean_days"], len(cidx))), a["review_lag_cap_days"]).astype(int)
    # An hourly week is invoiced at its end and paid 6 days later. A simplification: the sample's weeks run
    # from each contract's start, not Monday to Sunday as Upwork's do, so its paid days are any weekday.
    hourly_lag = UPWORK_HOURLY_AVAILABLE_AFTER_WEEK_END_DAYS - 7 + 3
    paid = submitted + np.where(r_hourly, hourly_lag, lag).astype("timedelta64[D]")
    prev_due_offset = np.where(seq == 1, 0, np.ceil((seq - 1) * r_duration / r_count)).astype(int)
    funded = r_start + prev_due_offset.astype("timedelta64[D]")

    r_cancelled = cancelled_effective[cidx]
    r_cancel_date = cancel_date[cidx]
    r_end_limit = np.where(r_cancelled, r_cancel_date, np.datetime64("9999-12-31"))
    was_submitted = (submitted <= r_end_limit) & (submitted <= today)
    was_paid = was_submitted & (paid <= today)
    # Single payments of a cancelled contract: occasionally the client releases part of it.
    partial = r_cancelled & ~r_hourly & (r_count == 1) & (rng.random(len(cidx)) < a["partial_release_on_cancel"])
    paid_cents = np.where(was_paid, amount_cents, 0)
    paid_cents = np.where(partial, np.round(amount_cents * rng.uniform(0.2, 0.6, len(cidx))).astype(np.int64), paid_cents)
    paid_date = np.where(partial, r_cancel_date, paid)
    is_paid = was_paid | partial
    was_funded = (funded <= r_end_limit) & (funded <= today) & ~r_hourly
    r_status = np.where(is_paid, "paid", np.where(was_submitted, "submitted",
                        np.where(r_cancelled, "cancelled", np.where(was_funded, "funded", "pending"))))
    r_status = np.where(r_hourly & ~is_paid, np.where(r_cancelled, "cancelled", "pending"), r_status)
    # A cancelled contract that was "submitted" but not paid: the client did not release it.
    r_status = np.where(r_cancelled & (r_status == "submitted"), "cancelled", r_status)
    is_paid = r_status == "paid"

    fee_cents = _fees_cents(platform[cidx], paid_date, np.where(is_paid, paid_cents, 0),
                            client_id[cidx], freelancer_id[cidx], is_paid, r_hourly)
    nat = np.datetime64("NaT")
    milestones_df = pd.DataFrame({
        "contract_id": ids[cidx],
        "seq": seq,
        "description": np.where(r_hourly, np.char.add("Week ", seq.astype(str)), np.char.add("Milestone ", seq.astype(str))),
        "amount": amount_cents / 100,
        "due_date": due,
        "funded_date": np.where(was_funded, funded, nat),
        "submitted_date": np.where(was_submitted | is_paid, np.minimum(submitted, paid_date), nat),
        "paid_date": np.where(is_paid, paid_date, nat),
        "paid_amount": np.where(is_paid, paid_cents / 100, np.nan),
        "fee": np.where(is_paid, fee_cents / 100, np.nan),
        "status": r_status,
    })
    return contracts_df, milestones_df


def _fees_cents(platform, paid_date, paid_cents, client, freelancer, is_paid, hourly) -> np.ndarray:
    """Platform fees per payment in cents, following SPEC.md's rules by date."""
    fee = np.zeros(len(paid_cents), dtype=np.float64)
    amount = paid_cents / 100.0
    upwork = (platform == "upwork") & is_paid
    flat = upwork & (paid_date >= np.datetime64(UPWORK_FLAT_FEE_FROM))
    fee[flat] = amount[flat] * UPWORK_FLAT_RATE
    early = upwork & (paid_date < np.datetime64(UPWORK_SLIDING_FEE_FROM))
    fee[early] = amount[early] * UPWORK_EARLY_RATE
    sliding = upwork & ~flat & ~early
    if sliding.any():
        # Lifetime billing with the client before each payment, in date order.
        idx = np.nonzero(sliding)[0]
        key = client[idx].astype(np.int64) * 1_000_003 + freelancer[idx]
        order = np.lexsort((paid_date[idx], key))
        k, amt = key[order], amount[idx][order]
        csum = np.cumsum(amt)
        group_start = np.r_[0, np.nonzero(np.diff(k))[0] + 1]
        starts = np.repeat(csum[group_start] - amt[group_start], np.diff(np.r_[group_start, len(k)]))
        before = csum - amt - starts
        after = before + amt
        tier_fee = np.zeros(len(amt))
        lower = 0.0
        for upper, rate in UPWORK_SLIDING_TIERS:
            tier_fee += np.maximum(0, np.minimum(after, upper) - np.maximum(before, lower)) * rate
            lower = upper
        out = np.empty(len(amt))
        out[order] = tier_fee
        fee[idx] = out
    fl = (platform == "freelancer") & is_paid
    fee[fl] = np.where(hourly[fl], amount[fl] * FREELANCER_RATE,  # the $5 minimum is on fixed-price work
                       np.maximum(amount[fl] * FREELANCER_RATE, np.minimum(FREELANCER_MIN_FEE, amount[fl])))
    fv = (platform == "fiverr") & is_paid
    fee[fv] = amount[fv] * (1 - FIVERR_SELLER_SHARE)
    return np.round(fee * 100).astype(np.int64)


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    out = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[col] = pa.array(s.dt.strftime("%Y-%m-%d"), type=pa.string())
        elif col in ("amount", "paid_amount", "fee", "budget"):
            out[col] = _money_text(s)
        else:
            out[col] = pa.array(s)
    return pa.table(out)


def _money_text(s: pd.Series) -> pa.Array:
    """Amounts as text with two decimals (vectorised; empty for missing)."""
    cents = np.round(s.to_numpy(dtype=float) * 100)
    mask = np.isnan(cents)
    c = np.where(mask, 0, cents).astype(np.int64)
    sign = np.where(c < 0, "-", "")
    c = np.abs(c)
    text = np.char.add(np.char.add(np.char.add(sign, (c // 100).astype(str)), "."), np.char.zfill((c % 100).astype(str), 2))
    return pa.array(text, type=pa.string(), mask=mask)


def write_csvs(out_dir: str | Path, contracts: int = 2000, seed: int = 7) -> tuple[Path, Path]:
    """Write ``contracts.csv`` and ``milestones.csv`` into ``out_dir`` and return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c_df, m_df = generate(contracts, seed)
    paths = (out / "contracts.csv", out / "milestones.csv")
    for df, path in zip((c_df, m_df), paths):
        pacsv.write_csv(_to_arrow(df), path, pacsv.WriteOptions(quoting_style="needed"))
    return paths
