"""``milestone-lens report``: the full comparison — cancellation risk, payment timing, earnings,
exposure — as a terminal summary, a JSON document (SPEC.md keys and more) or an HTML file.

The report currency is the filters' currency, else the one with the most fixed-price contracts; every
other currency gets its own, shorter section (``other_currencies``). Amounts in different
currencies are never added together.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analysis import cancellation, completions, earnings, exposure, marketplace, store, timing, workspace_admin
from analysis.cli import command, emit_json, workspace_to_read
from analysis.errors import UserError
from analysis.filters import SMALL_SAMPLE_FINISHED, Filters, currency_counts, parse_date, prepared
from analysis.wording import counted, plural, sentence

#: Days at which the report states the share of contracts cancelled so far (cumulative incidence).
INCIDENCE_HORIZONS = (7, 30, 90)
#: Client, freelancer and contract tables in the report keep this many rows (largest first).
TOP_ROWS = 50
#: ``report --json``'s exposure by client keeps this many groups (largest risk first, ``exposure.RISK_ORDER``);
#: by freelancer, ``TOP_ROWS``. ``by_client_total`` and ``by_freelancer_total`` say how many there are.
EXPOSURE_CLIENT_ROWS = 20


@dataclass
class CurrencySection:
    """Every analysis for the contracts in one currency. ``full`` sections have all of them."""

    currency: str
    filters: Filters
    full: bool
    rates: pd.DataFrame
    comparison: cancellation.RateComparison
    money: pd.DataFrame  # earnings totals per structure
    unpaid: pd.DataFrame
    timing: pd.DataFrame
    exposure: pd.DataFrame
    earnings_total: pd.DataFrame
    breakdowns: pd.DataFrame | None = None
    breakdown_differences: pd.DataFrame | None = None
    survival: cancellation.SurvivalData | None = None
    survival_fraction: cancellation.SurvivalData | None = None
    incidence: pd.DataFrame | None = None
    incidence_fraction: pd.DataFrame | None = None
    logrank: cancellation.LogRankTest | None = None
    adjusted: cancellation.AdjustedComparison | None = None
    cash_curve: pd.DataFrame | None = None
    first_payment: timing.DaysComparison | None = None
    withdrawable: pd.DataFrame | None = None
    ageing: pd.DataFrame | None = None
    months: pd.DataFrame | None = None
    by_client: pd.DataFrame | None = None
    by_freelancer: pd.DataFrame | None = None
    #: How many clients and freelancers were paid: ``by_client`` and ``by_freelancer`` keep the first ``TOP_ROWS``.
    by_client_total: int = 0
    by_freelancer_total: int = 0
    realised: pd.DataFrame | None = None
    pending: pd.DataFrame | None = None
    account_costs: pd.DataFrame | None = None
    unclassified: pd.DataFrame | None = None
    exposure_by_client: pd.DataFrame | None = None
    #: Paid contracts whose start a transaction history only estimates (``timing.estimated_starts``).
    estimated_starts: int = 0
    #: Contracts paid before their start date (``timing.paid_before_start``).
    paid_before_start: int = 0
    #: Contracts a transaction history brought (``completions.from_transaction_history``).
    from_transaction_history: int = 0
    exposure_by_freelancer: pd.DataFrame | None = None
    top_active: pd.DataFrame | None = None
    probability_basis: pd.DataFrame | None = None
    concentration: pd.DataFrame | None = None
    top_clients: pd.DataFrame | None = None

    @property
    def contracts(self) -> int:
        return int(self.rates["contracts"].sum())

    def net_after_account_costs(self) -> float | None:
        """Net earnings less the account's costs; None when the filters pick contracts (client,
        freelancer, category, platform): the costs are the whole account's, not theirs."""
        if self.account_costs is None or earnings.contract_filters_in(self.filters):
            return None
        return earnings.net_after_account_costs(float(self.earnings_total["net"].sum()), self.account_costs)

    def by_structure(self) -> pd.DataFrame:
        """Rates, money and the two SPEC medians per structure in one frame."""
        money = self.money.drop(columns=["currency"], errors="ignore").rename(
            columns={"contracts": "paid_contracts", "payments": "payments"})
        unpaid = self.unpaid.drop(columns=["currency"], errors="ignore")[
            ["structure", "unpaid_on_cancellation", "budget_unknown"]].rename(columns={"budget_unknown": "cancelled_budget_unknown"})
        med = self.timing.pivot(index="structure", columns="measure", values="median")
        med = med.reindex(columns=["start_to_first_payment", "submission_to_payment"]).rename(columns={
            "start_to_first_payment": "median_days_to_first_payment",
            "submission_to_payment": "median_payment_lag_days"}).reset_index()
        out = self.rates.merge(money, on="structure", how="left").merge(unpaid, on="structure", how="left").merge(med, on="structure", how="left")
        for col in ("gross", "fees", "net", "bonuses", "refunds", "unpaid_on_cancellation"):
            out[col] = out[col].fillna(0.0)
        out["cancelled_budget_unknown"] = out["cancelled_budget_unknown"].fillna(0).astype("int64")
        return out


@dataclass
class Report:
    """The whole report: one full section for the report currency, short ones for the others."""

    filters: Filters
    today: dt.date
    currencies: pd.DataFrame
    sections: list[CurrencySection]
    all_currencies_rates: pd.DataFrame
    all_currencies_comparison: cancellation.RateComparison
    notes: list[str] = field(default_factory=list)

    @property
    def main(self) -> CurrencySection | None:
        return self.sections[0] if self.sections else None

    @property
    def currency(self) -> str | None:
        return self.main.currency if self.main else None

    def to_json(self) -> dict:
        return report_json(self)

    def to_text(self) -> str:
        return report_text(self)


def _total_of(money: pd.DataFrame, currency: str) -> pd.DataFrame:
    """One row of sums over the structures (the same as ``earnings.totals(by=None)``, without a query)."""
    sums = {col: float(money[col].sum()) for col in ("payments", "gross", "fees", "net", "bonuses", "refunds")}
    sums["payments"] = int(sums["payments"])
    sums["effective_fee_rate"] = sums["fees"] / sums["gross"] if sums["gross"] else float("nan")
    return pd.DataFrame([{"currency": currency, **sums}])


def _section(con: duckdb.DuckDBPyConnection, filters: Filters, currency: str, today: dt.date, full: bool) -> CurrencySection:
    f = filters.with_currency(currency)
    rates = cancellation.rates_by_structure(con, f)
    money = earnings.totals(con, f, by="structure", count_contracts=False)
    money = money[money["currency"] == currency]
    unpaid = earnings.unpaid_on_cancellation(con, f)
    unpaid = unpaid[unpaid["currency"] == currency]
    section = CurrencySection(
        currency=currency, filters=f, full=full, rates=rates,
        comparison=cancellation.compare_structures(rates),
        money=money, unpaid=unpaid,
        timing=timing.timing_summary(con, f, None if full else ("start_to_first_payment", "submission_to_payment")),
        exposure=exposure.exposure(con, f), earnings_total=_total_of(money, currency),
    )
    if not full:
        return section
    section.estimated_starts = timing.estimated_starts(con, f)
    section.paid_before_start = timing.paid_before_start(con, f)
    section.from_transaction_history = completions.from_transaction_history(con, f)
    section.breakdowns = cancellation.breakdowns(con, f)
    section.breakdown_differences = cancellation.breakdown_differences(section.breakdowns)
    section.survival = cancellation.survival_data(con, f, today, "days")
    section.survival_fraction = cancellation.survival_data(con, f, today, "fraction")
    section.incidence = cancellation.cumulative_incidence(section.survival)
    section.incidence_fraction = cancellation.cumulative_incidence(section.survival_fraction)
    section.logrank = cancellation.beside_rates(cancellation.logrank_test(section.survival), section.comparison)
    section.adjusted = cancellation.adjusted_comparison(con, f)
    section.cash_curve = timing.cash_curve(con, f)
    section.first_payment = timing.compare_days(con, f)
    section.withdrawable = timing.withdrawable_position(con, f, today)
    section.ageing = timing.ageing(con, f, today)
    section.months = earnings.months(con, f, count_contracts=False)
    section.by_client, section.by_client_total = _top_groups(earnings.totals(con, f, by="client", limit=TOP_ROWS))
    section.by_freelancer, section.by_freelancer_total = _top_groups(
        earnings.totals(con, f, by="freelancer", limit=TOP_ROWS))
    section.realised = earnings.realised_vs_agreed(con, f)
    section.pending = earnings.pending(con, f)
    section.account_costs = earnings.account_costs(con, f)
    section.unclassified = earnings.unclassified(con, f)
    section.exposure_by_client = exposure.exposure(con, f, by="client")
    section.exposure_by_freelancer = exposure.exposure(con, f, by="freelancer")
    section.top_active = exposure.active_contracts(con, f, limit=20)
    section.probability_basis = exposure.probability_basis(con, f)
    section.concentration = exposure.concentration(con, f)
    section.top_clients = exposure.top_clients(con, f, limit=10)
    return section


def _top_groups(totals: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """A limited ``earnings.totals`` without its ``groups`` column, and how many groups there were."""
    count = int(totals.groupby("currency")["groups"].first().sum()) if len(totals) else 0
    return totals.drop(columns="groups"), count


def build_report(con: duckdb.DuckDBPyConnection, filters: Filters | None = None, today: dt.date | None = None) -> Report:
    """Run every analysis under ``filters`` (as of ``today``, default the real today)."""
    filters = filters or Filters()
    today = today or dt.date.today()
    with prepared(con):
        currencies = currency_counts(con, filters)
        codes = list(currencies["currency"])
        if filters.single_currency and filters.single_currency not in codes:
            codes = [filters.single_currency]
        if not codes:  # nothing matches: an empty section in the template's default currency (SPEC: "currency" is a code)
            codes = ["USD"]
        sections = [_section(con, filters, c, today, full=(i == 0)) for i, c in enumerate(codes)]
        all_rates = cancellation.rates_by_structure(con, filters)
    report = Report(filters, today, currencies, sections, all_rates, cancellation.compare_structures(all_rates))
    report.notes = _notes(report)
    return report


def _nothing_to_report(report: Report) -> str:
    """Why a report without contracts is empty: no filter chose none of them, so with no filters the
    workspace has none yet, and the way on is an import."""
    if report.filters.is_empty():
        return ("the workspace has no contracts yet: import a history first (milestone-lens import FILE..., "
                "or milestone-lens sample for a synthetic one)")
    return "no contracts match these filters: nothing to report"


def _notes(report: Report) -> list[str]:
    """Plain-language caveats: what the data cannot tell yet."""
    notes: list[str] = []
    main = report.main
    if main is None or main.contracts == 0:
        return [_nothing_to_report(report)]
    unknown = int(main.rates["status_unknown"].sum())
    if unknown:
        notes.append(f"{counted(unknown, 'contract')} no known status (e.g. imported from a transaction history): "
                     "left out of cancellation figures until their status is completed (Data page, or a completions "
                     "CSV imported on top)")
    if main.from_transaction_history:
        notes.append(marketplace.NOT_IN_TRANSACTION_HISTORY)
    if main.estimated_starts:
        notes.append(timing.estimated_starts_note(main.estimated_starts))
    if main.paid_before_start:
        notes.append(timing.paid_before_start_note(main.paid_before_start))
    missing_budget = int(main.by_structure()["cancelled_budget_unknown"].sum())
    if missing_budget:
        notes.append(f"{counted(missing_budget, 'cancelled fixed-price contract')} no known budget: "
                     "left out of unpaid_on_cancellation")
    small = main.rates[(main.rates["structure"] != "hourly") & main.rates["small_sample"]]
    compared = cancellation.fixed_price_contracts(main.rates)
    small = small[small["contracts"] > 0] if compared else small
    if len(small) and compared == 0:  # an all-hourly workspace: nothing to be too few of
        notes.append("no milestone or single-payment contracts: cancellation is compared between those two only")
    elif len(small):
        notes.append(f"fewer than {SMALL_SAMPLE_FINISHED} finished contracts for "
                     f"{' and '.join(small['structure'])}: too few to conclude anything; counts are shown instead of rates")
    if int(main.rates["finished"].sum()) == 0:
        notes.append("no contract has finished yet: no cancellation rate can be estimated")
    if len(report.sections) > 1:
        others = ", ".join(s.currency for s in report.sections[1:])
        notes.append(f"amounts are in {main.currency}; contracts in {others} are reported separately and never added")
    if main.survival is not None and main.survival.excluded_no_end_date:
        notes.append(f"{counted(main.survival.excluded_no_end_date, 'finished contract')} no end date: left out of "
                     f"the time-to-cancellation curves ({completions.DATES_FROM_TEMPLATE})")
    return notes


# --- JSON -------------------------------------------------------------------------------

def _num(value):
    """A JSON-safe number: NaN/NA/inf become None, numpy scalars plain Python."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def records(df: pd.DataFrame | None, columns: list[str] | None = None) -> list[dict]:
    """DataFrame rows as JSON-safe dicts."""
    if df is None or df.empty:
        return []
    frame = df[columns] if columns else df
    return [{k: _num(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _ci(low, high):
    low, high = _num(low), _num(high)
    return [low, high] if low is not None and high is not None else None


def _structure_json(section: CurrencySection) -> list[dict]:
    out = []
    for row in section.by_structure().to_dict(orient="records"):
        out.append({
            "structure": row["structure"],
            "contracts": int(row["contracts"]), "finished": int(row["finished"]),
            "cancelled": int(row["cancelled"]), "disputed": int(row["disputed"]),
            "completed": int(row["completed"]), "active": int(row["active"]),
            "status_unknown": int(row["status_unknown"]),
            "cancellation_rate": _num(row["cancellation_rate"]),
            "cancellation_ci": _ci(row["ci_low"], row["ci_high"]),
            "small_sample": bool(row["small_sample"]),
            "gross": _num(row["gross"]), "fees": _num(row["fees"]), "net": _num(row["net"]),
            "bonuses": _num(row["bonuses"]), "refunds": _num(row["refunds"]),
            "effective_fee_rate": _num(row.get("effective_fee_rate")),
            "median_days_to_first_payment": _num(row["median_days_to_first_payment"]),
            "median_payment_lag_days": _num(row["median_payment_lag_days"]),
            "unpaid_on_cancellation": None if no_status_yet(row["structure"], row["status_unknown"], row["contracts"])
            else _num(row["unpaid_on_cancellation"]),
            "cancelled_budget_unknown": int(row["cancelled_budget_unknown"]),
        })
    return out


def no_status_yet(structure: str, status_unknown: int, contracts: int) -> bool:
    """A fixed-price group none of whose contracts has a status: what it left unpaid is unknown, not 0
    (null in the JSON, "unknown (no status yet)" in the text and HTML reports)."""
    return structure != "hourly" and int(contracts) > 0 and int(status_unknown) >= int(contracts)


def _comparison_json(cmp: cancellation.RateComparison) -> dict:
    return {
        "rate_difference": cmp.rate_difference, "difference_ci": list(cmp.difference_ci) if cmp.difference_ci else None,
        "p_value": cmp.p_value, "groups": [cmp.a, cmp.b],
        "counts": {cmp.a: {"cancelled": cmp.a_cancelled, "finished": cmp.a_finished},
                   cmp.b: {"cancelled": cmp.b_cancelled, "finished": cmp.b_finished}},
        "small_sample": cmp.small_sample, "clear_difference": cmp.clear_difference, "message": cmp.message,
        "interval_method": cmp.interval_method, "test_method": cmp.test_method,
    }


def _incidence_at(incidence: pd.DataFrame) -> list[dict]:
    """Share cancelled (and completed) by each horizon, per structure, from the incidence curves."""
    out = []
    for structure, part in incidence.groupby("structure", sort=False):
        part = part.sort_values("time")
        row = {"structure": structure}
        for horizon in INCIDENCE_HORIZONS:
            upto = part[part["time"] <= horizon]
            row[f"cancelled_by_day_{horizon}"] = float(upto["cancelled"].iloc[-1]) if len(upto) else 0.0
        row["cancelled_by_end"] = float(part["cancelled"].iloc[-1])
        row["completed_by_end"] = float(part["completed"].iloc[-1])
        out.append(row)
    return out


def _days_comparison_json(c: timing.DaysComparison) -> dict:
    """Whether milestone contracts' first money came sooner than single payments' (``timing.compare_days``)."""
    return {"measure": c.measure, "groups": [c.a, c.b], "n": {c.a: c.a_n, c.b: c.b_n},
            f"prob_{c.a}_sooner": _num(c.prob_a_sooner), "prob_ci": [_num(v) for v in c.ci] if c.ci else None,
            "p_value": _num(c.p_value), "clear_difference": c.clear_difference, "test_method": c.test_method}


def section_json(section: CurrencySection) -> dict:
    """The JSON of one currency section (the report's top level holds the main one)."""
    doc = {
        "currency": section.currency,
        "contracts": section.contracts,
        "status_unknown": int(section.rates["status_unknown"].sum()),
        "by_structure": _structure_json(section),
        "comparison": _comparison_json(section.comparison),
        "earnings_total": records(section.earnings_total)[0],  # always one row (``_total_of``)
        # a currency with no active contract has no exposure row: the same keys, nothing at stake
        "exposure_total": (records(section.exposure) or [{"currency": section.currency, **exposure.NO_ACTIVE_CONTRACTS}])[0],
        "timing": records(section.timing),
    }
    if not section.full:
        return doc
    doc["breakdowns"] = [
        {**{k: _num(v) for k, v in row.items() if k not in ("ci_low", "ci_high", "group_order")},
         "cancellation_ci": _ci(row["ci_low"], row["ci_high"])}
        for row in section.breakdowns.to_dict(orient="records")
    ]
    doc["breakdown_differences"] = records(section.breakdown_differences.drop(columns=["group_order"], errors="ignore"))
    doc["time_to_cancellation"] = {
        "logrank": section.logrank.to_json(),
        "cumulative_incidence": _incidence_at(section.incidence),
        "excluded": {"no_end_date": section.survival.excluded_no_end_date,
                     "no_planned_duration": section.survival_fraction.excluded_no_planned_duration,
                     "status_unknown": section.survival.excluded_status_unknown},
        "method": "Aalen–Johansen cumulative incidence of cancellation with completion as the competing event "
                  "(active contracts censored at today); log-rank test of the cause-specific hazard of "
                  "cancellation (completed contracts censored at their end)",
    }
    doc["from_transaction_history"] = section.from_transaction_history
    doc["adjusted"] = section.adjusted.to_json()
    doc["cash_curve"] = records(section.cash_curve)
    doc["first_payment_comparison"] = _days_comparison_json(section.first_payment)
    doc["withdrawable"] = records(section.withdrawable)
    doc["ageing"] = records(section.ageing)
    doc["earnings"] = {
        "by_month": records(section.months),
        "top_clients": records(section.by_client),
        "top_clients_total": section.by_client_total,  # the list above keeps the TOP_ROWS with the largest gross
        "by_freelancer": records(section.by_freelancer),
        "by_freelancer_total": section.by_freelancer_total,
        "realised_vs_agreed": records(section.realised),
        "pending": records(section.pending),
        "account_costs": records(section.account_costs),
        "net_after_account_costs": _num(section.net_after_account_costs()),
        "unclassified": records(section.unclassified),
    }
    doc["exposure"] = {
        "totals": records(section.exposure),
        "by_client": records(section.exposure_by_client.head(EXPOSURE_CLIENT_ROWS)),
        "by_client_total": len(section.exposure_by_client),  # the list above keeps the first EXPOSURE_CLIENT_ROWS
        "by_freelancer": records(section.exposure_by_freelancer.head(TOP_ROWS)),
        "by_freelancer_total": len(section.exposure_by_freelancer),
        "largest_expected_losses": records(section.top_active),
        "probability_basis": records(section.probability_basis),
        "probability_method": "share cancelled among finished contracts of the same currency, structure and budget "
                              f"band; when fewer than {SMALL_SAMPLE_FINISHED}, the same structure; then all contracts",
        "concentration": records(section.concentration),
        "top_clients": records(section.top_clients),
    }
    return doc


def report_json(report: Report) -> dict:
    """The document ``report --json`` prints (SPEC.md keys at the top level, for the report currency)."""
    main = report.main
    doc: dict = {
        "filters": report.filters.to_dict(),
        "today": report.today.isoformat(),
        "currency": report.currency,
        "currencies": records(report.currencies),
        "small_sample_threshold": SMALL_SAMPLE_FINISHED,
    }
    body = section_json(main)  # always a section: with nothing matching, an empty one in USD
    body.pop("currency")
    doc.update(body)
    doc["all_currencies"] = {
        "note": "cancellation counts over every currency (no amounts)",
        "by_structure": [
            {"structure": r["structure"], "contracts": int(r["contracts"]), "finished": int(r["finished"]),
             "cancelled": int(r["cancelled"]), "cancellation_rate": _num(r["cancellation_rate"]),
             "cancellation_ci": _ci(r["ci_low"], r["ci_high"])}
            for r in report.all_currencies_rates.to_dict(orient="records")],
        "comparison": _comparison_json(report.all_currencies_comparison),
    }
    doc["other_currencies"] = [section_json(s) for s in report.sections[1:]]
    doc["notes"] = report.notes
    return doc


# --- terminal summary --------------------------------------------------------------------

# How the text and the HTML report write a figure; "—" where there is none.

def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def format_pct(x) -> str:
    return "—" if _missing(x) else f"{x * 100:.1f} %"


def format_money(x) -> str:
    return "—" if _missing(x) else f"{x:,.2f}"


def format_days(x) -> str:
    return "—" if _missing(x) else f"{x:g}"


def median_text(median, n) -> str:
    """``11.5 (n=2)``: a median with how many cases it rests on; "—" when nothing was measured."""
    return "—" if not n or _missing(median) else f"{format_days(median)} (n={int(n):,})"


def format_count(x) -> str:
    return "—" if _missing(x) else f"{int(x):,}"


def format_date(x) -> str:
    """``2026-01-05``; "—" for a missing date (None, NaT)."""
    return "—" if x is None or pd.isna(x) else f"{x:%Y-%m-%d}"


def unpaid_text(unpaid, status_unknown: int, contracts: int, structure: str) -> str:
    """``unpaid_on_cancellation`` of a fixed-price group as written: "unknown" while no contract of it has a
    known status (not 0.00: nothing says none was cancelled), and how many are left out while some have none."""
    if no_status_yet(structure, status_unknown, contracts):
        return "unknown (no status yet)"
    if structure == "hourly" or not status_unknown:
        return format_money(unpaid)
    return f"{format_money(unpaid)} ({status_unknown:,} of {contracts:,} without status left out)"


def rate_text(cancelled: int, finished: int, rate, low, high, small: bool) -> str:
    """``14.5 % (12.1–17.3 %)``, or ``3 of 12`` for a small sample."""
    if finished == 0:
        return "nothing finished"
    if small:
        return f"{cancelled} of {finished} (small sample)"
    return f"{rate * 100:.1f} % ({low * 100:.1f}–{high * 100:.1f} %)"


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    fmt = lambda r: "  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return [fmt(header)] + [fmt(r) for r in rows]


def report_text(report: Report) -> str:
    """A readable terminal summary of the report."""
    lines = [f"Milestone Lens report — {report.filters.describe()} (as of {report.today.isoformat()})"]
    main = report.main
    if main is None or main.contracts == 0:
        lines.append(sentence(_nothing_to_report(report)))
        return "\n".join(lines)
    others = [f"{s.currency} ({s.contracts:,})" for s in report.sections[1:]]
    lines.append(f"Report currency: {main.currency} ({plural(main.contracts, 'contract')})"
                 + (f"; reported separately: {', '.join(others)}" if others else ""))
    lines += ["", "Cancellation risk (cancelled or disputed / finished; 95 % Wilson interval)"]
    bs = main.by_structure()
    rows = [[r.structure, f"{r.contracts:,}", f"{r.finished:,}", f"{r.cancelled:,}", f"{r.disputed:,}", f"{r.active:,}",
             rate_text(r.cancelled, r.finished, r.cancellation_rate, r.ci_low, r.ci_high, r.small_sample)]
            for r in bs.itertuples()]
    # "cancelled" counts the disputed ones too (SPEC's cancellation); the next column says how many of them.
    lines += _table(rows, ["structure", "contracts", "finished", "cancelled", "of them disputed", "active", "cancellation rate"])
    cmp = main.comparison
    if cmp.rate_difference is not None and not cmp.small_sample:  # too few: counts only
        lines.append(f"  Milestones − single: {cmp.rate_difference * 100:+.1f} points "
                     f"(95 % CI {cmp.difference_ci[0] * 100:+.1f} to {cmp.difference_ci[1] * 100:+.1f}), {cancellation.p_text(cmp.p_value)}")
    lines.append(f"  {cmp.message[0].upper() + cmp.message[1:]}.")
    if main.adjusted is not None:
        lines.append(f"  Adjusted: {main.adjusted.message}.")
    if main.logrank is not None:
        lr = main.logrank
        lines.append(f"  Time to cancellation: log-rank {cancellation.p_text(lr.p_value)}; {lr.message}." if lr.p_value is not None
                     else f"  Time to cancellation: {lr.message}.")
    lines += ["", "Payment timing (median days, n = contracts or payments measured; first payment: over the contracts "
                  "that have one)"]
    keys = ["start_to_first_payment", "submission_to_payment", "funded_to_paid", "gap_between_payments", "start_to_first_withdrawable"]
    shown = main.timing[main.timing["measure"].isin(keys)].set_index(["structure", "measure"])
    rows = [[s] + [median_text(shown.at[(s, k), "median"], shown.at[(s, k), "n"]) if (s, k) in shown.index else "—"
                   for k in keys] for s in timing.STRUCTURES]
    lines += _table(rows, ["structure", "first payment", "submitted→paid", "funded→paid", "gap", "first withdrawable"])
    few = int(((shown["n"] > 0) & (shown["n"] < SMALL_SAMPLE_FINISHED)).sum())
    if few:
        lines.append(f"  {sentence(timing.few_cases_note(few))}")
    tested = timing.first_money_sentence(main.first_payment) if main.first_payment is not None else None
    if tested:
        lines.append(f"  {tested}")
    lines += ["", f"Earnings ({main.currency})"]
    rows = [[r.structure, format_money(r.gross), format_money(r.fees), format_money(r.net), format_pct(r.fees / r.gross) if r.gross else "—",
             unpaid_text(r.unpaid_on_cancellation, r.status_unknown, r.contracts, r.structure)] for r in bs.itertuples()]
    lines += _table(rows, ["structure", "gross", "fees", "net", "fee rate", "unpaid on cancellation"])
    lines += _pending_and_costs_text(main)
    ex = main.exposure
    lines += ["", f"Exposure of active contracts ({main.currency})"]
    unknown = int(main.rates["status_unknown"].sum())
    if ex.empty and unknown:
        lines.append(f"  No contract is known to be active, but {counted(unknown, 'contract')} no status yet (a transaction "
                     "history cannot say): those still running are not counted here until their status is completed.")
    elif ex.empty:
        lines.append("  No active contracts.")
    else:
        e = ex.iloc[0]
        known = lambda x: "unknown" if _missing(x) or pd.isna(x) else format_money(x)  # noqa: E731
        lines.append(f"  {int(e['active'])} active ({int(e['hourly_active'])} hourly, not valued): remaining "
                     f"{format_money(e['remaining'])}, of which funded in escrow {known(e['funded'])}, unfunded "
                     f"{known(e['unfunded'])}; submitted awaiting release {format_money(e['submitted'])}; "
                     f"expected loss {format_money(e['expected_loss'])}")
        for caveat in (exposure.funding_caveat(e), exposure.expected_loss_caveat(e)):
            if caveat:
                lines.append(f"  {caveat}")
    if main.concentration is not None and not main.concentration.empty:
        c = main.concentration.iloc[0]
        unnamed = float(c["unattributed_gross"] or 0)
        lines.append(f"  Largest client {c['largest_client']} has {c['largest_share'] * 100:.1f} % of earnings; "
                     f"HHI {c['hhi']:.3f} over {plural(int(c['clients']), 'client')}"
                     + (f" ({format_money(unnamed)} paid by contracts without a client name is left out)" if unnamed else ""))
    for s in report.sections[1:]:
        sb = s.by_structure()
        parts = [f"{r.structure} {rate_text(r.cancelled, r.finished, r.cancellation_rate, r.ci_low, r.ci_high, r.small_sample)}"
                 for r in sb.itertuples()]
        tot = s.earnings_total
        gross = float(tot["gross"].iloc[0]) if len(tot) else 0.0
        net = float(tot["net"].iloc[0]) if len(tot) else 0.0
        lines += ["", f"{s.currency}: {plural(s.contracts, 'contract')}; cancelled: {'; '.join(parts)}; "
                      f"gross {format_money(gross)} {s.currency}, net {format_money(net)} {s.currency}"]
    if report.notes:
        lines += ["", "Notes"] + [f"  - {n}" for n in report.notes]
    return "\n".join(lines)


def _pending_and_costs_text(section: CurrencySection) -> list[str]:
    """The lines under the earnings table for money the table leaves out: pending payments and account costs."""
    lines = []
    pending = section.pending
    if pending is not None and not pending.empty:
        lines.append(f"  Pending, not yet earned (not in the table): {format_money(float(pending['gross'].sum()))} "
                     f"in {plural(int(pending['items'].sum()), 'payment')}")
    costs = section.account_costs
    if costs is not None and not costs.empty:
        net = float(section.earnings_total["net"].sum())
        cost = net - earnings.net_after_account_costs(net, costs)
        first, last = costs["first_date"].min(), costs["last_date"].max()
        span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if pd.notna(first) and pd.notna(last) else "undated"
        after = section.net_after_account_costs()
        lines.append(f"  Account costs (withdrawal fees, connects, memberships, service fees whose payment no import has "
                     "brought yet; not contract fees): "
                     f"{format_money(cost)} in {plural(int(costs['items'].sum()), 'item')}, {span}; "
                     + (f"the whole account's, so not taken off a net narrowed by "
                        f"{' and '.join(earnings.contract_filters_in(section.filters))}" if after is None
                        else f"net after them {format_money(after)}"))
    other = section.unclassified
    if other is not None and not other.empty:
        lines.append(f"  Unclassified (transaction types the import did not know, kept as imported; in no contract and "
                     f"not in the net): {format_money(float(other['amount'].sum()))} in "
                     f"{plural(int(other['items'].sum()), 'item')} ({other['descriptions'].iloc[0]})")
    return lines


# --- command line ------------------------------------------------------------------------

def add_filter_arguments(p: argparse.ArgumentParser) -> None:
    """SPEC's filters: --from --to (contract start date), --client, --freelancer, --category, --platform, --currency."""
    p.add_argument("--from", dest="date_from", metavar="DATE", help="contracts that started on or after DATE")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="contracts that started on or before DATE")
    # Repeatable, as the dashboard's links repeat them (?client=Acme&client=Beta): any of the values.
    many = "; repeat for several (any of them)"
    p.add_argument("--client", metavar="NAME", action="append", help="contracts of this client" + many)
    p.add_argument("--freelancer", metavar="NAME", action="append", help="contracts of this freelancer" + many)
    p.add_argument("--category", metavar="NAME", action="append", help="contracts of this category" + many)
    p.add_argument("--platform", metavar="NAME", action="append", help="contracts of this platform" + many)
    p.add_argument("--currency", metavar="CODE", action="append",
                   help="contracts in this currency" + many + "; amounts are in the one with the most fixed-price "
                        "contracts (then the most contracts), the others reported apart")


def filters_from_args(args: argparse.Namespace) -> Filters:
    """``Filters`` from parsed arguments; ``UserError`` (exit 2) on values that do not parse."""
    return Filters(
        date_from=parse_date(args.date_from, "--from"), date_to=parse_date(args.date_to, "--to"),
        client=args.client, freelancer=args.freelancer, category=args.category,
        platform=args.platform, currency=args.currency,
    )


def _configure_report(p: argparse.ArgumentParser) -> None:
    add_filter_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--html", type=Path, metavar="OUT.html", help="also write a self-contained HTML report")
    p.add_argument("--today", metavar="DATE", help="the as-of date: active contracts are censored there, and withdrawable money and unpaid work are "
                        "as they stood on it (default: today)")
    p.add_argument("--parquet", metavar="DIR", type=Path,
                   help="report over a Parquet dataset written by export-parquet, read in place and out of core "
                        "(DuckDB capped at $MILESTONE_LENS_MEMORY_LIMIT, default 1GB), instead of a workspace")


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder, so a failure leaves nothing half-written.

    A file written over keeps its permissions (a private report stays private); a new one gets those
    any new file would. Errors name ``path``, never the temporary file."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give a file path such as {path / 'report.html'}")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{path}: {folder} is a file, not a folder")
    if not folder.is_dir():
        raise UserError(f"{path}: the folder {folder} does not exist")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask  # mkstemp makes the file private (0600); a report is for sharing
    try:
        fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=folder)
    except OSError as exc:
        raise UserError(f"{path}: cannot write the report ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UserError(f"{path}: cannot write the report ({exc.strerror or exc})") from None
        raise


@command("report", _configure_report)
def run_report(args: argparse.Namespace) -> int:
    """The full comparison: cancellation risk, payment timing, earnings, exposure."""
    filters = filters_from_args(args)
    today = parse_date(args.today, "--today") or dt.date.today()
    if args.parquet is not None:
        from analysis import parquet_store

        if args.db is not None:
            raise UserError("report: --db and --parquet both name the data to report on; give one")
        con = parquet_store.open_parquet_workspace(args.parquet, memory_limit=store.memory_limit())
        try:
            report = build_report(con, filters, today)
            unknown = workspace_admin.values_not_in_workspace(con, filters)
        finally:
            con.close()
    else:
        missing = "no workspace here yet; import a history first (milestone-lens import or sample)"
        with workspace_to_read(args, missing, read_only=False) as con:  # opened as before this helper: read-write
            report = build_report(con, filters, today)
            unknown = workspace_admin.values_not_in_workspace(con, filters)
    if unknown:
        print(f"note: not in the {'dataset' if args.parquet is not None else 'workspace'}: {', '.join(unknown)} "
              "(no contract has it)", file=sys.stderr)
    html_path = None
    if args.html is not None:
        from dashboard.html_report import render_html

        html_path = args.html
        write_text_atomically(html_path, render_html(report))
    if args.json:
        doc = report.to_json()
        if html_path is not None:
            doc["html"] = str(html_path)
        emit_json(doc)
    else:
        print(report.to_text())
        if html_path is not None:
            print(f"\nWrote the HTML report to {html_path}")
    return 0
