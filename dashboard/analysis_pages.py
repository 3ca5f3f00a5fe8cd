"""What the analysis pages (Cancellation risk, Payment timing, Earnings, Portfolio risk) share.

Each page starts with ``contracts_or_stop``: an empty workspace or filters that select nothing
get a helpful message instead of empty charts. Charts are drawn through ``show_chart`` so they
follow the app's theme (``streamlit_config.toml``) rather than the HTML report's white template.
Composite analyses that pages cache through ``dashboard.state.query`` live here as plain
module-level functions (``state.query`` needs a stable qualified name).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import duckdb
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from analysis import cancellation, store
from analysis.filters import SMALL_SAMPLE_FINISHED, Filters, currency_counts, uses_prepared
from analysis.wording import plural
from dashboard.charts import STRUCTURE_LABELS, TOP_BARS
from dashboard.sidebar import current_filters, filter_caption
from dashboard.state import query, workspace
from dashboard.tables import escape_markdown, show_table

#: The template Streamlit registers for its chart theme (colours follow the app's theme).
STREAMLIT_TEMPLATE = "streamlit"


def today() -> dt.date:
    """The date analyses are "as of" (active contracts, holds, ageing); part of every cache key."""
    return dt.date.today()


def show_chart(figure: go.Figure, key: str, *, height: int | None = None) -> None:
    """Draw a figure from ``dashboard.charts`` with the app's chart theme.

    The builders set no template; in the app Streamlit's (its fonts and colours follow the theme)
    is Plotly's default, so it applies without validating a template per figure. Trace colours
    the builders chose (structure colours) are kept.
    """
    if STREAMLIT_TEMPLATE in pio.templates and pio.templates.default != STREAMLIT_TEMPLATE:
        figure.update_layout(template=STREAMLIT_TEMPLATE)
    if height is not None:
        figure.update_layout(height=height)
    st.plotly_chart(figure, key=key, theme="streamlit")


def metric_row() -> DeltaGenerator:
    """A row of metric cards that wraps onto a second line rather than cut a figure.

    In fixed columns (``st.columns(5)``) a laptop-wide window (1280 px, sidebar open) cut an agency's
    7–8 digit totals to "62,12…" and labels to "Not funded (U…"; here each card is at least as wide as
    its figure and label, and the cards of a line share what is left."""
    return st.container(horizontal=True, gap="small")


def top_bars_caption(groups: int, noun: str, ranked_by: str, among: str) -> None:
    """Say that a chart draws only the first ``charts.TOP_BARS`` of ``groups``: 15 bars of about a thousand
    clients, untitled as such, read as all of them."""
    if groups > TOP_BARS:
        st.caption(f"The {TOP_BARS} {noun}s with the {ranked_by}, of {plural(groups, noun)} {among}.")


def page_header(title: str, intro: str, shows_filtered: bool = True) -> Filters:
    """Title, one plain sentence on what the page answers, and which contracts it shows
    (``shows_filtered=False``: a page that says itself which filters it uses)."""
    st.title(title)
    st.caption(intro)
    filters = current_filters()
    if shows_filtered:
        filter_caption(filters)
    return filters


def contracts_or_stop(filters: Filters) -> pd.DataFrame:
    """``rates_by_structure`` for the filters; stops the page with a helpful message when the
    workspace is empty or the filters select no contract."""
    if store.is_empty(workspace()):
        st.info("The workspace is empty. Upload your contract history (the CSV template, or an Upwork or "
                "Freelancer.com export) on the Data page, or load the bundled sample history there to look around.",
                icon=":material/inbox:")
        st.page_link("views/data.py", label="Go to Data: upload or load the sample", icon=":material/upload:")
        st.stop()
    rates = query(cancellation.rates_by_structure, filters)
    if int(rates["contracts"].sum()) == 0:
        st.warning(f"No contracts match these filters ({escape_markdown(filters.describe())}). "
                   "Widen the date range or remove a filter in the sidebar.", icon=":material/filter_alt_off:")
        st.stop()
    return rates


def status_unknown_note(rates: pd.DataFrame) -> None:
    """Say how many contracts have no status yet (left out of cancellation figures)."""
    unknown = int(rates["status_unknown"].sum())
    if unknown:
        st.warning(f"{unknown:,} contract{' has' if unknown == 1 else 's have'} no status yet (a transaction history "
                   "cannot say whether a contract was completed or cancelled); left out of every cancellation figure "
                   "until you complete them on the Data page.", icon=":material/help:")


def rate_cell(cancelled: int, finished: int, low: float, high: float) -> str:
    """``15.0 % (12.7–17.7 %)`` — or ``3 of 12`` below the small-sample threshold."""
    if finished == 0:
        return "nothing finished"
    if finished < SMALL_SAMPLE_FINISHED:
        return f"{cancelled} of {finished}"
    return f"{cancelled / finished * 100:.1f} % ({low * 100:.1f}–{high * 100:.1f} %)"


def show_rates_table(rates: pd.DataFrame, name: str, *, key: str) -> None:
    """``rates_by_structure`` as the reports count it: "cancelled" includes the disputed (the rate's
    numerator) and "of them disputed" says how many; the rate with its interval, or counts only
    for a small sample."""
    frame = pd.DataFrame({
        "structure": rates["structure"].map(STRUCTURE_LABELS),
        "contracts": rates["contracts"], "finished": rates["finished"], "completed": rates["completed"],
        "cancelled": rates["cancelled"], "disputed": rates["disputed"], "active": rates["active"],
        "status_unknown": rates["status_unknown"],
        "cancellation_rate": [rate_cell(r.cancelled, r.finished, r.ci_low, r.ci_high) for r in rates.itertuples()],
    })
    small = bool((rates["finished"] < SMALL_SAMPLE_FINISHED).any())
    show_table(frame, name, key=key, column_config={
        "disputed": "of them disputed", "status_unknown": "status unknown",
        "cancellation_rate": "cancellation rate (95 % interval)" + (
            f"; cancelled of finished below {SMALL_SAMPLE_FINISHED}" if small else "")})


def main_currency(filters: Filters) -> str | None:
    """The report currency (the first row of ``filters.currency_counts``), read off the cached ``currency_counts`` the
    pages query anyway, so a cold rerun does not run the same grouping twice."""
    if filters.single_currency:
        return filters.single_currency
    counts = query(currency_counts, filters)
    return str(counts["currency"].iloc[0]) if len(counts) else None


def report_basis(filters: Filters) -> Filters:
    """The filters the reports' figures rest on: over several currencies, the report currency only.

    ``milestone-lens report`` (and the HTML report every page downloads) compares contracts within
    one currency, the one with the most fixed-price contracts, and reports the others apart; a page that
    pooled them would show other rates than the report beside it. A caption names what is left out.
    """
    if filters.single_currency:
        return filters
    counts = query(currency_counts, filters)
    currency = main_currency(filters)
    others = counts[counts["currency"] != currency]
    if currency is None or others.empty:
        return filters
    mine = counts.loc[counts["currency"] == currency].iloc[0]
    listed = ", ".join(f"{int(n):,} in {escape_markdown(c)}" for c, n in zip(others["currency"], others["contracts"]))
    why = _why_this_currency(mine, others)
    mine = int(mine["contracts"])
    st.caption(f"These figures are for the {plural(mine, 'contract')} in {escape_markdown(currency)}, {why}, as in "
               f"the reports: contracts in other currencies ({listed}) are reported apart. "
               + how_to_see(filters, list(others["currency"])))
    return filters.with_currency(currency)


def how_to_see(filters: Filters, others: list[str]) -> str:
    """How to see the contracts in the ``others`` currencies, in a sentence: pick a currency — or, when the
    sidebar already picks several, keep only one (figures come in one currency; "pick a currency" misread)."""
    if len(filters.values("currency")) < 2:
        return "Pick a currency in the sidebar to see them."
    names = [escape_markdown(c) for c in others]
    which = names[0] if len(names) == 1 else f"one of {', '.join(names[:-1])} and {names[-1]}"
    return (f"The sidebar picks {len(filters.values('currency'))} currencies, but figures come in one at a time: keep "
            f"only {which} selected there to see its figures.")


def _why_this_currency(mine: pd.Series, others: pd.DataFrame) -> str:
    """Why the report currency (a ``currency_counts`` row) was chosen over the ``others``, in words."""
    fixed, top_other = int(mine["fixed_price"]), int(others["fixed_price"].max())
    if fixed > top_other:
        return "the currency of most fixed-price contracts"
    if int(mine["contracts"]) > int(others.loc[others["fixed_price"] == fixed, "contracts"].max()):
        # With no fixed-price contract anywhere (all hourly), "those with the most fixed-price" names nothing.
        return ("of those with the most fixed-price contracts, the one with the most contracts" if fixed
                else "the currency of most contracts")
    return "first by name of those with the most contracts"


def report_currency(filters: Filters) -> str | None:
    """The currency amounts are shown in, with a caption naming the contracts in other currencies."""
    counts = query(currency_counts, filters)
    currency = main_currency(filters)
    others = counts[counts["currency"] != currency]
    if currency and not others.empty:
        listed = ", ".join(f"{int(n):,} in {escape_markdown(c)}" for c, n in zip(others["currency"], others["contracts"]))
        why = _why_this_currency(counts.loc[counts["currency"] == currency].iloc[0], others)
        st.caption(f"Amounts are in {escape_markdown(currency)}, {why}; contracts in "
                   f"other currencies ({listed}) are never added in. " + how_to_see(filters, list(others["currency"])))
    return currency


def in_currency(frame: pd.DataFrame, currency: str | None) -> pd.DataFrame:
    """The rows of a per-currency analysis frame for one currency (all rows when it has no currency column)."""
    if "currency" not in frame.columns:
        return frame
    return frame[frame["currency"] == currency].reset_index(drop=True)


def money(value: float | None, currency: str | None = None) -> str:
    """``1,234`` (or ``USD 1,234``): whole units, as people read totals."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    text = f"{value:,.0f}"
    return f"{currency} {text}" if currency else text


def share(value: float | None) -> str:
    """0.437 → ``44 %``; NaN → ``—``."""
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"{float(value) * 100:.0f} %"


def p_value_words(p_value: float, clear: bool) -> str:
    """Whether a gap could be chance, in words a reader without statistics training follows, with the p-value.

    ``clear``: the test and the 95 % interval agree that there is a gap; when only the test says so
    the words say it is unproven, so the card never reads both "includes no difference" and "not chance"."""
    shown = cancellation.p_text(p_value)
    if clear and p_value < 0.001:
        return ("Hardly chance: if both kinds of contract were equally risky, a gap this large would turn up in fewer "
                f"than 1 in 1,000 histories like yours ({shown}).")
    if clear:
        return ("Probably not chance: if both kinds of contract were equally risky, a gap this large would turn up in "
                f"only about {max(1, round(p_value * 100))} of 100 histories like yours ({shown}).")
    if p_value < 0.05:
        return (f"Unproven: the test alone finds the gap unlikely to be chance ({shown}), but the 95 % interval still "
                "includes 0 (no difference), so the two methods disagree and the gap is no firm evidence either way.")
    return (f"It could well be chance: a gap this size turns up in about {round(p_value * 100)} of 100 histories even "
            f"when there is no real difference, so it is no evidence either way ({shown}).")


# --- composite analyses, cached by the pages through dashboard.state.query ------------------------

@dataclass(frozen=True)
class TimeToCancellation:
    """Survival data, cumulative incidence curves and the log-rank test, on one time scale."""

    data: cancellation.SurvivalData
    incidence: pd.DataFrame
    logrank: cancellation.LogRankTest


@uses_prepared
def time_to_cancellation(con: duckdb.DuckDBPyConnection, filters: Filters, as_of: dt.date,
                         scale: str = "days") -> TimeToCancellation:
    """Everything the "when do cancellations happen" section draws, computed once per filters and day."""
    data = cancellation.survival_data(con, filters, as_of, scale)
    return TimeToCancellation(data, cancellation.cumulative_incidence(data), cancellation.logrank_test(data))


def show_money_table(frame: pd.DataFrame, name: str, *, key: str, money: tuple[str, ...] = (),
                     column_config: dict | None = None, as_text: dict | None = None,
                     download: pd.DataFrame | None = None, **kwargs) -> None:
    """``dashboard.tables.show_table`` with the ``money`` columns rounded to cents and shown with
    thousands separators and always two decimals, negatives in brackets ("accounting": 30,200.80,
    not 30,200.8 beside 7,564); the CSV gets the same cents.

    ``as_text``: column -> function writing each figure as text (``share``: "10 %", "—" when
    missing), for figures written as the reports write them. The CSV keeps the numbers.
    ``download``: every row, when the table shows only the first of them (the CSV holds them all)."""
    present = [c for c in money if c in frame.columns]

    def cents(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.assign(**{c: rows[c].astype(float).round(2) for c in present}) if present else rows

    shown = cents(frame)
    config = {c: st.column_config.NumberColumn(c.replace("_", " "), format="accounting") for c in present}
    written = {c: f for c, f in (as_text or {}).items() if c in shown.columns}
    display = shown.assign(**{c: shown[c].map(f) for c, f in written.items()}) if written else shown
    csv = cents(download) if download is not None else shown if written else None
    show_table(display, name, key=key, column_config={**config, **(column_config or {})}, download=csv, **kwargs)
