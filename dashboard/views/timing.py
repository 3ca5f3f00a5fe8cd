"""Payment timing: how soon money arrives under each payment structure, when it can be withdrawn,
and what finished work is still waiting to be paid."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from analysis import earnings, timing
from analysis.filters import SMALL_SAMPLE_FINISHED
from analysis.timing import MEASURES
from analysis.wording import STRUCTURE_WORDS, plural, sentence
from dashboard import charts
from dashboard.analysis_pages import (
    contracts_or_stop, in_currency, metric_row, money, page_header, report_basis, report_currency, share, show_chart, show_money_table,
    today,
)
from dashboard.charts import STRUCTURE_LABELS
from dashboard.state import query
from dashboard.tables import count_column, show_table

#: What each measure means, in a sentence.
MEASURE_HELP = {
    "start_to_first_payment": "Days from the contract's start to the first money received (contracts with at least one payment).",
    "submission_to_payment": "Days from handing in a milestone (or an hourly week) to its payment.",
    "funded_to_paid": "Days a milestone's money sat in escrow before it was released to you.",
    "gap_between_payments": "Days between one payment and the next on the same contract.",
    "start_to_first_withdrawable": "Days from the start until the first money could be withdrawn (after platform holds).",
    "submission_to_withdrawable": "Days from handing in work until its money could be withdrawn.",
}


#: Measures the distribution chart offers, with the day from which intervals share the last bar.
DISTRIBUTION_MEASURES = {"submission_to_payment": 30, "start_to_first_payment": 60, "gap_between_payments": 30,
                         "submission_to_withdrawable": 45}

#: What one case of a measure is, for saying how few the distribution rests on.
MEASURED_UNITS = {"start_to_first_payment": "contract", "gap_between_payments": "gap between payments"}


def days_text(value: float) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:g} days"


def median_of(summary: pd.DataFrame, measure: str, structure: str) -> tuple[float, int]:
    row = summary[(summary["measure"] == measure) & (summary["structure"] == structure)]
    if row.empty or int(row["n"].iloc[0]) == 0:
        return math.nan, 0
    return float(row["median"].iloc[0]), int(row["n"].iloc[0])


filters = page_header("Payment timing", "How soon money arrives under each payment structure, when you can withdraw "
                                        "it, and what finished work is still waiting to be paid.")
filters = report_basis(filters)
contracts_or_stop(filters)
as_of = today()
summary = query(timing.timing_summary, filters)

# --- headline ------------------------------------------------------------------------------
st.subheader("How soon the first money arrives")
m_days, m_n = median_of(summary, "start_to_first_payment", "milestones")
s_days, s_n = median_of(summary, "start_to_first_payment", "single")
if m_n and s_n:
    faster = "sooner" if m_days < s_days else "later" if m_days > s_days else "at the same time"
    st.markdown(f"Half of your milestone contracts brought their first money within **{m_days:g} days** of the start; "
                f"half of your single-payment contracts within **{s_days:g} days** — milestones paid "
                + (f"{abs(s_days - m_days):g} days {faster}" if faster != "at the same time" else "at about the same time")
                + f" (medians over {m_n:,} and {s_n:,} contracts with a payment)."
                + (f" With fewer than {SMALL_SAMPLE_FINISHED} contracts on a side, that is too few to conclude anything."
                   if min(m_n, s_n) < SMALL_SAMPLE_FINISHED else ""))
    tested = timing.first_money_sentence(query(timing.compare_days, filters))
    if tested:
        st.markdown(tested)
estimated = query(timing.estimated_starts, filters)
if not (m_n and s_n):
    st.markdown("Not enough paid contracts of both kinds to compare how soon money arrives"
                + (": the start dates are unknown for contracts from a platform export." if estimated else "."))
if estimated:
    st.info(sentence(timing.estimated_starts_note(estimated)), icon=":material/event_busy:")
early = query(timing.paid_before_start, filters)
if early:
    st.warning(sentence(timing.paid_before_start_note(early)), icon=":material/warning:")
cells = metric_row()
for structure in ("milestones", "single", "hourly"):
    days, n = median_of(summary, "start_to_first_payment", structure)
    lag, lag_n = median_of(summary, "submission_to_payment", structure)
    cells.metric(f"First payment: {STRUCTURE_LABELS[structure].lower()}", days_text(days), border=True,
                  help=f"Median over {n:,} contracts with a payment. After handing in work, payment took a median of "
                       f"{days_text(lag)} ({lag_n:,} payments)." if n else "No paid contracts of this kind.")

st.subheader("Every timing measure")
st.caption("Bars are medians (half of the cases were quicker); whiskers run from the 25th to the 75th percentile, "
           "so the middle half of your payments lies inside them.")
show_chart(charts.timing_medians(summary), "timing_medians", height=480)
few = summary[(summary["n"] > 0) & (summary["n"] < SMALL_SAMPLE_FINISHED)]
if not few.empty:
    st.warning(sentence(timing.few_cases_note(len(few))), icon=":material/warning:")
measured = summary[summary["n"] > 0]
table = measured.assign(measure=measured["measure"].map(MEASURES), structure=measured["structure"].map(STRUCTURE_LABELS))
show_table(table, "payment-timing", key="timing_summary", column_config={
    "n": count_column("n", help="How many contracts or payments were measured"),
    "median": st.column_config.NumberColumn("median days", format="%.1f"),
    "p25": st.column_config.NumberColumn("25th percentile", format="%.1f"),
    "p75": st.column_config.NumberColumn("75th percentile", format="%.1f"),
    "mean": st.column_config.NumberColumn("mean days", format="%.1f"),
})
with st.expander("What each measure means"):
    st.markdown("\n".join(f"- **{MEASURES[m]}**: {text}" for m, text in MEASURE_HELP.items()))

# --- distributions ---------------------------------------------------------------------------
st.subheader("How the days spread")
st.caption("Not just the middle: the share of contracts or payments for each number of days, per structure. A long "
           "tail to the right means some payments keep you waiting far longer than the median suggests.")
measure = st.segmented_control(
    "Measure", list(DISTRIBUTION_MEASURES), format_func=MEASURES.get, default="submission_to_payment",
    key="timing_measure", required=True)
dist = query(timing.distribution, filters, measure, bin_days=1, max_days=DISTRIBUTION_MEASURES[measure])
show_chart(charts.lag_distribution(dist, MEASURES[measure]), f"distribution_{measure}", height=380)
few = dist.groupby("structure", sort=False)["n"].sum() if not dist.empty else pd.Series(dtype="int64")
few = few[few < SMALL_SAMPLE_FINISHED]
if not few.empty:  # one payment drew a 100 % bar with nothing to say it is one (the medians above say it)
    unit = MEASURED_UNITS.get(measure, "payment")
    (first, n_first), *rest = few.items()
    named = f"The {STRUCTURE_WORDS[first]} bars rest on only {plural(int(n_first), unit)}" + "".join(
        f" and the {STRUCTURE_WORDS[s]} bars on only {int(n):,}" for s, n in rest)
    st.warning(f"{named}, fewer than {SMALL_SAMPLE_FINISHED}: {'an example' if len(few) == 1 else 'examples'}, "
               "not a pattern.", icon=":material/warning:")
if not dist.empty:
    late = dist[dist["open_ended"]].set_index("structure")["share"]
    if (late > 0).any():
        st.caption("Waited " + f"{DISTRIBUTION_MEASURES[measure]} days or more: "
                   + ", ".join(f"{share(v)} of {STRUCTURE_LABELS[k].lower()}" for k, v in late.items()) + ".")

# --- cash curve -----------------------------------------------------------------------------
st.subheader("Cash over the life of a contract")
curve = query(timing.cash_curve, filters)
show_chart(charts.cash_curve(curve), "cash_curve", height=420)
left_out = query(timing.cash_curve_left_out, filters)
if not left_out.empty:  # a contract-level paid_total has no date: drawn at 0 it would read as never paid
    st.caption("Left out of the curve, as paid on an unknown date (a contract-level paid_total): "
               + ", ".join(f"{plural(int(n), STRUCTURE_WORDS[s] + ' contract')}" for s, n in left_out.itertuples(index=False))
               + ".")
few = curve.groupby("structure", sort=False)["contracts"].first() if not curve.empty else pd.Series(dtype="int64")
few = few[few < SMALL_SAMPLE_FINISHED]
if not few.empty:  # each curve that rests on too few contracts, by name and count
    (first, n_first), *rest = few.items()
    named = f"The {STRUCTURE_WORDS[first]} curve averages only {plural(int(n_first), 'contract')}" + "".join(
        f" and the {STRUCTURE_WORDS[s]} curve only {int(n):,}" for s, n in rest)
    st.warning(f"{named}: too few to conclude anything.", icon=":material/warning:")
if not curve.empty:
    halfway = curve[curve["fraction_elapsed"].round(6) == 0.5].set_index("structure")["share_received"]
    if {"milestones", "single"} <= set(halfway.index) and few.empty:  # no comparison of curves said to be too few
        st.markdown(f"Halfway through the planned time, milestone contracts had paid on average "
                    f"**{share(halfway['milestones'])}** of their agreed value, single-payment contracts "
                    f"**{share(halfway['single'])}**.")
st.caption("Finished fixed-price contracts with a budget and a planned end date: the average share of the agreed value "
           "received by each point of the planned duration (100 % = the planned end, dotted line). Cancelled contracts "
           "stay below 100 %.")

# --- withdrawable -------------------------------------------------------------------------
st.subheader("Money you can withdraw")
st.caption("Platforms hold released money before you can withdraw it: Upwork 5 days after a fixed-price release and "
           "until the Wednesday 10 days after an hourly week; Fiverr 14 days; Freelancer.com and direct clients at once. "
           f"Net of fees, as of {as_of:%d %b %Y}; everything your payments have cleared, before any withdrawal you made "
           "(withdrawals move money out of the account and belong to no contract, so they are not subtracted here).")
currency = report_currency(filters)
position = query(timing.withdrawable_position, filters, as_of)
mine = in_currency(position, currency)
if mine.empty:
    st.info("No payments received under these filters yet.", icon=":material/account_balance_wallet:")
else:
    row = mine.iloc[0]
    cells = metric_row()
    cells.metric(f"Cleared for withdrawal ({currency})", money(row["withdrawable"]), border=True,
                help="Net payments whose hold has ended by today, all time: not your balance, which withdrawals lower.")
    cells.metric(f"Still on hold ({currency})", money(row["on_hold"]), border=True)
    release = row["next_release"]
    cells.metric("Next release", "nothing on hold" if pd.isna(release) else f"{pd.Timestamp(release):%d %b %Y}",
                 border=True)
if len(position) > 1:
    show_money_table(position, "withdrawable-by-currency", key="timing_withdrawable",
                     money=("paid", "withdrawable", "on_hold"), column_config={
                         "paid": st.column_config.NumberColumn("paid (net)", format="accounting"),
                         "withdrawable": st.column_config.NumberColumn("cleared for withdrawal", format="accounting"),
                         "on_hold": st.column_config.NumberColumn("on hold", format="accounting"),
                         "next_release": st.column_config.DateColumn("next release"),
                     })

# --- ageing -----------------------------------------------------------------------------------
st.subheader("Handed in, not yet paid")
st.caption("Milestones and hourly weeks you submitted that have not been paid, by how long ago you submitted them. "
           "On Upwork a fixed-price submission is released automatically after 14 days of client silence: anything "
           "older deserves a look.")
buckets = query(timing.ageing, filters, as_of)
mine = in_currency(buckets, currency)
pending = in_currency(query(earnings.pending, filters), currency)
if (mine.empty or int(mine["items"].sum()) == 0) and not pending.empty:
    # Upwork rows without a balance: paid by the client, not yet released to you.
    st.info(f"No submitted work is unpaid, but {money(float(pending['gross'].sum()), currency)} of payments "
            f"({plural(int(pending['items'].sum()), 'payment')}) are still pending release: they count once "
            "released (Earnings lists them).", icon=":material/hourglass_top:")
elif mine.empty or int(mine["items"].sum()) == 0:
    st.success("Nothing you handed in is waiting for payment.", icon=":material/check_circle:")
else:
    show_chart(charts.ageing(buckets, currency), "ageing", height=360)
    overdue = mine[mine["bucket_order"] > 0]
    if int(overdue["items"].sum()):
        waiting = int(overdue["items"].sum())
        st.warning(f"{plural(waiting, 'submitted item')} worth {money(float(overdue['amount'].sum()), currency)} "
                   f"{'has' if waiting == 1 else 'have'} waited more than 30 days.", icon=":material/hourglass_bottom:")
if not buckets.empty:  # the table also lists other currencies; with nothing anywhere the line above says it all
    show_money_table(buckets.drop(columns=["bucket_order"]), "unpaid-by-age", key="timing_ageing", money=("amount",))
