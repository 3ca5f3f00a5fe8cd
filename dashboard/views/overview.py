"""Overview: the answer in plain words, the key figures, earnings over time, where to look next."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis import cancellation, earnings, overview
from analysis.filters import SMALL_SAMPLE_FINISHED
from analysis.wording import counted
from dashboard.analysis_pages import (
    contracts_or_stop, main_currency, metric_row, report_basis, show_rates_table, status_unknown_note,
)
from dashboard.charts import STRUCTURE_COLORS, STRUCTURE_LABELS
from dashboard.sidebar import current_filters, filter_caption
from dashboard.state import query

st.title("Milestone Lens")
st.caption("Do milestones pay off? Your own contract history, compared.")

filters = current_filters()
filter_caption(filters)
filtered = not filters.is_empty()
filters = report_basis(filters)
rates = contracts_or_stop(filters)

# --- the answer -------------------------------------------------------------------------
comparison = cancellation.compare_structures(rates)
answer = overview.headline(comparison, filtered=filtered,
                           compared_contracts=cancellation.fixed_price_contracts(rates))
with st.container(border=True):
    st.subheader(answer.text)
    if answer.detail:
        st.write(answer.detail)
    status_unknown_note(rates)

# --- key figures ------------------------------------------------------------------------
by = rates.set_index("structure")
currency = main_currency(filters)
totals = query(earnings.totals, filters, by=None)
money = totals[totals["currency"] == currency]
gross = float(money["gross"].sum()) if not money.empty else 0.0
net = float(money["net"].sum()) if not money.empty else 0.0


def cancelled_metric(column, structure: str) -> None:
    cancelled, finished = int(by.at[structure, "cancelled"]), int(by.at[structure, "finished"])
    shown = overview.rate_text(cancelled, finished) if finished else "—"
    if finished == 0:
        help_text = "No finished contracts of this kind."
    elif finished < SMALL_SAMPLE_FINISHED:
        help_text = f"Fewer than {SMALL_SAMPLE_FINISHED} finished: shown as counts, too few for a percentage."
    else:
        help_text = (f"{cancelled:,} of {finished:,} finished contracts (cancelled or disputed); 95 % Wilson "
                     f"interval {overview.percent(by.at[structure, 'ci_low'])} to {overview.percent(by.at[structure, 'ci_high'])}.")
    column.metric(f"Cancelled: {STRUCTURE_LABELS[structure].lower()}", shown, help=help_text, border=True)


first = metric_row()
first.metric("Contracts", f"{int(rates['contracts'].sum()):,}", border=True,
                help=f"{int(rates['active'].sum()):,} still active.")
first.metric("Finished", f"{int(rates['finished'].sum()):,}", border=True,
                help="Completed, cancelled or disputed.")
first.metric(f"Gross ({currency})", f"{gross:,.0f}", border=True, help="What clients paid, in earned payments.")
first.metric(f"Net ({currency})", f"{net:,.0f}", border=True, help="Gross minus platform fees.")
second = metric_row()
cancelled_metric(second, "milestones")
cancelled_metric(second, "single")
cancelled_metric(second, "hourly")
lost = query(earnings.unpaid_on_cancellation, filters)
lost = lost[lost["currency"] == currency]
cancelled_fixed = int(lost["cancelled_contracts"].sum())
unknown_budget = int(lost["budget_unknown"].sum())
# "0" would say nothing was lost; with no cancelled contract known there is nothing to say ("—").
second.metric(f"Left unpaid ({currency})", f"{float(lost['unpaid_on_cancellation'].sum()):,.0f}" if cancelled_fixed else "—",
                 border=True, help=("Budget minus what was paid, over cancelled and disputed fixed-price contracts"
                                    + (f"; {counted(unknown_budget, 'contract')} no known budget and "
                                       f"{'is' if unknown_budget == 1 else 'are'} left out." if unknown_budget else ".")
                                    if cancelled_fixed else
                                    "No fixed-price contract is known to have been cancelled or disputed."))

# --- earnings over time -----------------------------------------------------------------
st.subheader(f"Net earnings by month and payment structure ({currency})")
monthly = query(overview.earnings_by_month_and_structure, filters)
monthly = monthly[monthly["currency"] == currency]
if monthly.empty:
    st.info("No dated payments under these filters yet, so there is no time series to draw. "
            "Contract-level exports carry totals without dates; milestone rows with a paid date fill this chart.",
            icon=":material/bar_chart:")
else:
    months = pd.date_range(monthly["month"].min(), monthly["month"].max(), freq="MS")
    figure = go.Figure()
    for structure in ("milestones", "single", "hourly"):
        part = monthly[monthly["structure"] == structure].set_index("month").reindex(months)
        if part["net"].notna().any():
            figure.add_bar(x=months, y=part["net"].fillna(0.0), name=STRUCTURE_LABELS[structure],
                           marker_color=STRUCTURE_COLORS[structure],
                           hovertemplate="%{x|%b %Y}: %{y:,.0f}<extra>" + STRUCTURE_LABELS[structure] + "</extra>")
    figure.update_xaxes(tickformat="%b %Y", dtick="M1" if len(months) <= 12 else None)
    figure.update_layout(barmode="stack", yaxis_title=f"net ({currency})", xaxis_title=None,
                         legend=dict(orientation="h", y=1.1), margin=dict(l=10, r=10, t=30, b=10), height=360)
    st.plotly_chart(figure, key="earnings_by_month")
    undated = int(monthly["undated_payments"].max())
    if undated:
        st.caption(f"{undated:,} payments without a date (contract-level totals) are not in the chart.")

with st.expander("The figures by payment structure"):
    show_rates_table(rates, "overview-by-structure", key="overview_by_structure")

# --- what next --------------------------------------------------------------------------
st.subheader("What to look at next")
active = int(rates["active"].sum())
unknown = int(rates["status_unknown"].sum())
# One link per line: two columns cut the longer labels short in a 1280-pixel window.
st.page_link("views/cancellation.py", icon=":material/cancel:",
             label="Cancellation risk: by budget, duration, client, category and year")
st.page_link("views/timing.py", icon=":material/schedule:",
             label="Payment timing: how soon money arrives under each structure")
st.page_link("views/earnings.py", icon=":material/payments:",
             label="Earnings: gross, fees and net by client and over time")
st.page_link("views/portfolio.py", icon=":material/account_balance:",
             label=(f"Portfolio risk: what your {active:,} active contract{' still has' if active == 1 else 's still have'} "
                    "at stake")
             if active else "Portfolio risk: exposure of active contracts (none known to be active)")
st.page_link("views/splitter.py", icon=":material/call_split:",
             label="Milestone splitter: plan your next contract with this history's risk")
if unknown:
    st.page_link("views/data.py", icon=":material/edit_note:",
                 label=f"Data: complete the {unknown:,} contract{'' if unknown == 1 else 's'} without a status")
else:
    st.page_link("views/data.py", icon=":material/database:", label="Data: import more history or export it")
