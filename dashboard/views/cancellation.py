"""Cancellation risk: how often each payment structure ends cancelled, whether the gap is more than
chance, whether it holds for work like yours, when cancellations happen, and the adjusted odds."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from analysis import cancellation, completions, overview, report
from analysis.cancellation import BREAKDOWN_DIMENSIONS, BREAKDOWN_LABELS
from analysis.filters import SMALL_SAMPLE_FINISHED
from analysis.wording import plural
from dashboard import charts
from dashboard.analysis_pages import (
    contracts_or_stop, main_currency, p_value_words, page_header, rate_cell, report_basis, show_chart, show_rates_table,
    status_unknown_note, time_to_cancellation, today,
)
from dashboard.charts import STRUCTURE_LABELS
from dashboard.html_report import render_html
from dashboard.state import connection, query
from dashboard.tables import download_csv, escape_markdown, show_table

NOUNS = overview.STRUCTURE_NOUNS
#: Survival curves stop where fewer contracts than this were still under observation (too few to read).
MIN_AT_RISK = 10


def breakdown_table(breakdown: pd.DataFrame, differences: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """One dimension's groups in words: each structure's rate (counts for small groups) and the
    milestones − single difference with its interval where both sides have enough contracts."""
    part = breakdown[breakdown["dimension"] == dimension]
    if part.empty:
        return pd.DataFrame()
    groups = part.drop_duplicates("group").sort_values(["group_order", "group"])[["group"]].reset_index(drop=True)
    out = groups.copy()
    for structure in cancellation.STRUCTURES:
        rows = part[part["structure"] == structure].set_index("group").reindex(groups["group"])
        out[STRUCTURE_LABELS[structure]] = [
            "—" if pd.isna(r.finished) else rate_cell(int(r.cancelled), int(r.finished), r.ci_low, r.ci_high)
            for r in rows.itertuples()]
    diff = differences[differences["dimension"] == dimension].set_index("group").reindex(groups["group"])
    enough = diff["small_sample"].eq(False).to_numpy()
    out["milestones − single"] = [f"{d * 100:+.1f} points" if ok else "—" for ok, d in zip(enough, diff["rate_difference"])]
    out["95 % interval"] = [f"{lo * 100:+.1f} to {hi * 100:+.1f}" if ok else "—"
                            for ok, lo, hi in zip(enough, diff["ci_low"], diff["ci_high"])]
    out["p-value (adjusted)"] = [cancellation.p_number(p) if ok and math.isfinite(p) else "—"
                                 for ok, p in zip(enough, diff["p_adjusted"])]
    finished = part.pivot_table(index="group", columns="structure", values="finished", aggfunc="sum").reindex(
        index=groups["group"], columns=["milestones", "single"]).fillna(0)
    both = ((finished["milestones"] > 0) & (finished["single"] > 0)).to_numpy()
    out["verdict"] = [verdict(ok, d, clear) if has_both else "nothing to compare"
                      for ok, d, clear, has_both in zip(enough, diff["rate_difference"], diff["clear_difference"], both)]
    return out[["group", "verdict"] + [c for c in out.columns if c not in ("group", "verdict")]]  # the answer first


def in_main_currency(breakdown: pd.DataFrame, currency: str | None) -> pd.DataFrame:
    """Budget bands only make sense in one currency: keep the report currency's bands, without its prefix."""
    budget = breakdown["dimension"] == "budget_band"
    ours = breakdown["group_order"].astype(str).str.startswith(currency or "")
    kept = breakdown[~budget | ours].copy()
    bands = kept["dimension"] == "budget_band"
    kept.loc[bands, "group"] = kept.loc[bands, "group"].str.removeprefix(f"{currency} ")
    return kept


def counts_text(rates: pd.DataFrame) -> str:
    """``0 of 3 milestone contracts, 1 of 2 single-payment contracts`` (or ``none finished``)."""
    parts = [f"{int(r.cancelled)} of {int(r.finished)} {NOUNS[r.structure]}" for r in rates.itertuples()]
    return ", ".join(parts) + " cancelled" if parts else "none finished"


def verdict(enough: bool, difference: float, clear: bool) -> str:
    """One group's comparison in three words (``clear``: the test and the interval agree there is a difference)."""
    if not enough:
        return "too few to tell"
    if clear:
        return f"milestones cancelled {'less' if difference < 0 else 'more'} often"
    return "no clear difference"


def sentence(text: str) -> str:
    """An analysis message as a sentence: capitalised, escaped for markdown."""
    return escape_markdown(text[:1].upper() + text[1:])


def html_report_bytes(shared, filters, as_of) -> bytes:
    """The full HTML report for the current filters, made only when the button is clicked
    (on the download's own thread, so on its own cursor)."""
    cursor = shared.cursor()
    try:
        return render_html(report.build_report(cursor, filters, as_of)).encode("utf-8")
    finally:
        cursor.close()


filters = page_header("Cancellation risk", "How often contracts end cancelled under each payment structure, "
                                           "and whether milestones make a difference in your own history.")
chosen = filters  # the HTML report below makes its own sections per currency
filters = report_basis(filters)
rates = contracts_or_stop(filters)
status_unknown_note(rates)
as_of = today()

# --- rates -------------------------------------------------------------------------------
st.subheader("How often contracts were cancelled")
st.caption(f"Cancelled or disputed, as a share of finished contracts (completed, cancelled or disputed); active "
           f"contracts have not finished and are not counted. Groups with fewer than {SMALL_SAMPLE_FINISHED} finished "
           "contracts show counts only: one contract more or less would swing their percentage by several points.")
by = rates.set_index("structure")
columns = st.columns(3)
for column, structure in zip(columns, cancellation.STRUCTURES):
    cancelled, finished = int(by.at[structure, "cancelled"]), int(by.at[structure, "finished"])
    if finished == 0:
        help_text = "No finished contracts of this kind."
    elif finished < SMALL_SAMPLE_FINISHED:
        help_text = f"Fewer than {SMALL_SAMPLE_FINISHED} finished: too few for a percentage."
    else:
        help_text = (f"{cancelled:,} of {finished:,} finished; 95 % Wilson interval "
                     f"{overview.percent(by.at[structure, 'ci_low'])} to {overview.percent(by.at[structure, 'ci_high'])}.")
    column.metric(f"Cancelled: {STRUCTURE_LABELS[structure].lower()}",
                  "none finished" if finished == 0 else overview.rate_text(cancelled, finished),
                  help=help_text, border=True)
finished_groups = rates[rates["finished"] > 0]
if finished_groups.empty or finished_groups["small_sample"].all():
    st.info(f"Too few finished contracts to chart rates ({counts_text(finished_groups)}): every group has fewer than "
            f"{SMALL_SAMPLE_FINISHED}, so only the counts below mean anything.", icon=":material/bar_chart:")
else:
    show_chart(charts.cancellation_rates(rates), "cancellation_rates", height=380)
    st.caption("The whisker on each bar is the 95 % interval: the range the true rate plausibly lies in given how many "
               "contracts you have. Hatched bars rest on too few contracts to read much into.")
show_rates_table(rates, "cancellation-by-structure", key="cancel_rates")

# --- the difference ----------------------------------------------------------------------
st.subheader("Milestones against a single payment")
comparison = cancellation.compare_structures(rates)
with st.container(border=True):
    if comparison.rate_difference is None:
        missing = "milestones" if comparison.a_finished == 0 else "single"
        st.markdown(f"Nothing to compare yet: there are no finished {NOUNS[missing]} under these filters.")
    elif comparison.small_sample:
        st.markdown(
            f"**Too few finished contracts to conclude anything.** {comparison.a_cancelled} of {comparison.a_finished} "
            f"milestone contracts and {comparison.b_cancelled} of {comparison.b_finished} single-payment contracts "
            f"were cancelled; a comparison needs at least {SMALL_SAMPLE_FINISHED} finished contracts of each kind.")
    else:
        diff, (low, high) = comparison.rate_difference, comparison.difference_ci
        a_rate = comparison.a_cancelled / comparison.a_finished
        b_rate = comparison.b_cancelled / comparison.b_finished
        direction = "less" if diff < 0 else "more"
        a_shown, b_shown = overview.percent_pair(a_rate, b_rate)
        st.markdown(
            f"**Milestone contracts were cancelled {abs(diff) * 100:.1f} percentage points {direction} often** than "
            f"single-payment contracts ({a_shown} of {comparison.a_finished:,} against "
            f"{b_shown} of {comparison.b_finished:,}).")
        if high < 0 or low > 0:
            near, far = sorted((abs(low), abs(high)))
            st.markdown(f"The 95 % interval for the gap runs from {near * 100:.1f} to {far * 100:.1f} points "
                        f"{'lower' if high < 0 else 'higher'} for milestone contracts.")
        else:
            st.markdown(f"The 95 % interval for the gap runs from {low * 100:+.1f} to {high * 100:+.1f} points: it "
                        "includes 0, no difference at all.")
        st.markdown(p_value_words(comparison.p_value, comparison.clear_difference))
        st.caption(f"Interval: {comparison.interval_method}; test: {comparison.test_method}.")

# --- breakdowns ----------------------------------------------------------------------------
st.subheader("Does it hold for work like yours?")
st.caption("The same comparison within groups: by budget, planned duration, new or repeat client, category, "
           "platform and start year. Small groups show counts only and draw no conclusion. Comparing many groups, "
           "one in twenty would show a gap at p < 0.05 by chance alone, so the p-values are adjusted for how many "
           "groups are compared (Holm–Šidák) before a verdict is drawn.")
breakdown, differences = query(cancellation.breakdown_comparison, filters)
dimension = st.segmented_control(
    "Break down by", list(BREAKDOWN_DIMENSIONS), format_func=BREAKDOWN_LABELS.get, default=BREAKDOWN_DIMENSIONS[0],
    key="cancel_dimension", required=True)
label = BREAKDOWN_LABELS[dimension].lower()
shown, shown_differences = breakdown, differences
if dimension == "budget_band" and not filters.single_currency:  # the workspace's one currency: its bands, unprefixed
    currency = main_currency(filters)
    shown, shown_differences = in_main_currency(breakdown, currency), in_main_currency(differences, currency)
groups = shown[(shown["dimension"] == dimension) & (shown["finished"] > 0)]
if groups.empty or groups["small_sample"].all():
    st.info(f"Every {label} group has fewer than {SMALL_SAMPLE_FINISHED} finished contracts: too few to chart rates. "
            "The counts are in the table.", icon=":material/bar_chart:")
else:
    show_chart(charts.breakdown_rates(shown, dimension, f"Cancellation rate by {label}"), f"breakdown_{dimension}",
               height=420)
show_table(breakdown_table(shown, shown_differences, dimension), f"cancellation-by-{dimension}",
           key=f"cancel_breakdown_{dimension}", empty_message="No finished contracts in any group.",
           column_config={label: st.column_config.TextColumn(label, width="medium") for label in STRUCTURE_LABELS.values()})
download_csv(breakdown, "cancellation-breakdowns-all", key="cancel_breakdowns_all",
             label="Download every group's counts and rates (CSV)")

# --- timing of cancellations ------------------------------------------------------------------
st.subheader("When cancellations happen")
scale = st.segmented_control(
    "Measure time in", ["days", "fraction"], default="days", key="cancel_time_scale", required=True,
    format_func={"days": "days since the start", "fraction": "share of the planned duration"}.get)
survival = query(time_to_cancellation, filters, as_of, scale)
# The incidence chart and the test are in days whatever the scale (as in the reports): a display
# choice must not turn "no clear difference" into "differs".
days_view = survival if scale == "days" else query(time_to_cancellation, filters, as_of, "days")
observed = int(survival.data.counts["n"].sum())
if observed < SMALL_SAMPLE_FINISHED:
    st.info(f"{'Only ' + plural(observed, 'contract') if observed else 'No contract'} with known dates: too few to draw when "
            f"cancellations happen (the curves need at least {SMALL_SAMPLE_FINISHED}).", icon=":material/timeline:")
else:
    followed = survival.incidence[survival.incidence["at_risk"] >= MIN_AT_RISK]
    show_chart(charts.not_cancelled_curves(followed, scale), f"not_cancelled_{scale}", height=420)
    st.caption("Each line starts at 100 % and steps down when contracts of that kind are cancelled. A completed "
               "contract can no longer be cancelled, so it stays counted as not cancelled (cumulative incidence, "
               "with completion as a competing outcome); still-active contracts leave the count. A higher line means "
               f"fewer cancellations; the shaded band is the 95 % range. Lines stop where fewer than {MIN_AT_RISK} "
               "contracts were still running.")
    show_chart(charts.cumulative_incidence(days_view.incidence), "incidence", height=420)
    st.caption("Solid lines: share cancelled by each day; dotted: share completed. A completed contract can no longer "
               "be cancelled, so the two are counted as competing outcomes (cumulative incidence).")
logrank = cancellation.beside_rates(days_view.logrank, comparison)  # worded beside the rates' verdict above
if logrank.p_value is not None:
    over = "days since the start, as in the reports" if scale == "fraction" else "days since the start"
    st.markdown(f"{sentence(logrank.message)} "
                f"(log-rank test over {over}, {cancellation.p_text(logrank.p_value)}, "
                f"{logrank.cancellations:,} cancellations).")
else:
    st.markdown(sentence(logrank.message) + ".")
left_out = []
if survival.data.excluded_no_end_date:
    left_out.append(f"{plural(survival.data.excluded_no_end_date, 'finished contract')} without an end date")
if scale == "fraction" and survival.data.excluded_no_planned_duration:
    left_out.append(f"{plural(survival.data.excluded_no_planned_duration, 'contract')} without a planned end date")
if left_out:
    st.caption("Left out of these curves: " + " and ".join(left_out) + f" ({completions.DATES_FROM_TEMPLATE}).")

# --- adjusted --------------------------------------------------------------------------------
st.subheader("Taking budget, duration and client history into account")
adjusted = query(cancellation.adjusted_comparison, filters)
with st.container(border=True):
    if not adjusted.ok:
        st.markdown(f"No adjusted comparison: {escape_markdown(adjusted.message)}.")
    else:
        low, high = adjusted.ci
        like = (f"Comparing like with like — contracts of similar {adjusted.adjusted_for} — " if adjusted.adjusted_for
                else "With every contract alike in budget, planned duration and client history, ")
        st.markdown(
            f"{like}milestone contracts had **{adjusted.odds_ratio:.2f}×** the odds of being cancelled that single-payment "
            f"contracts had (95 % interval {low:.2f} to {high:.2f}; 1 would mean no difference).")
        if adjusted.few_events:
            st.warning(f"{adjusted.cancellations:,} of {adjusted.contracts:,} contracts were cancelled: too few of one "
                       f"outcome for a model of {len(adjusted.covariates)} terms (about "
                       f"{cancellation.EVENTS_PER_TERM} of each per term are needed), so this odds ratio and its "
                       "interval are a rough hint, not a finding.", icon=":material/warning:")
        st.caption("In the model's words: " + escape_markdown(adjusted.message) + ". Logistic regression on "
                   f"{adjusted.contracts:,} finished fixed-price contracts ({adjusted.cancellations:,} cancelled) with "
                   f"errors clustered by client ({adjusted.clusters:,} clients).")
        coefficients = pd.DataFrame([{"term": name, **values} for name, values in adjusted.coefficients.items()])
        # In words, and p-values as everywhere else ("< 0.001", not 4.35e-7); the CSV keeps names and numbers.
        shown_terms = coefficients.assign(
            term=coefficients["term"].map(lambda t: cancellation.TERM_WORDS.get(t, t)),
            p_value=[cancellation.p_number(p) if math.isfinite(p) else "—" for p in coefficients["p_value"]])
        with st.expander("Every term of the model"):
            show_table(shown_terms, "adjusted-odds-ratios", key="cancel_adjusted", download=coefficients, column_config={
                "odds_ratio": st.column_config.NumberColumn("odds ratio", format="%.3f"),
                "ci_low": st.column_config.NumberColumn("95 % low", format="%.3f"),
                "ci_high": st.column_config.NumberColumn("95 % high", format="%.3f"),
                "p_value": "p-value",
            })

# --- the report ---------------------------------------------------------------------------
st.subheader("The whole report")
st.caption("Every analysis for the current filters — cancellation risk, payment timing, earnings and exposure — as "
           "one HTML file that opens offline and can be emailed.")
shared = connection()
st.download_button("Download the HTML report", data=lambda: html_report_bytes(shared, chosen, as_of),
                   file_name="milestone-lens-report.html", mime="text/html", icon=":material/description:",
                   key="cancel_html_report", on_click="ignore")
