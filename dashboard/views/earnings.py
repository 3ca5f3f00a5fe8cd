"""Earnings: what clients paid, what platforms took and what was left, over time and by client and
freelancer; how much of the agreed price was really paid, and what cancellations left unpaid."""

from __future__ import annotations

import dataclasses

import streamlit as st

from analysis import cancellation, earnings
from analysis.wording import counted, plural
from dashboard import charts
from dashboard.analysis_pages import (
    contracts_or_stop, in_currency, metric_row, money, page_header, report_currency, share, show_chart, show_money_table,
    top_bars_caption,
)
from dashboard.charts import STRUCTURE_LABELS
from dashboard.state import query
from dashboard.tables import escape_markdown

#: Clients and freelancers listed in the on-screen table (largest gross first); its CSV holds every one.
TOP_GROUPS = 50


# As text ("10 %", as the reports write a rate; a month without gross shows "—"); the CSV keeps the fraction.
FEE_RATE = {"column_config": {"effective_fee_rate": st.column_config.TextColumn("fee rate")},
            "as_text": {"effective_fee_rate": share}}

filters = page_header("Earnings", "What clients paid (gross), what the platforms took (fees) and what was left for you "
                                  "(net) — and how much of the agreed price cancellations cost.")
contracts_or_stop(filters)
currency = report_currency(filters)

# --- totals -------------------------------------------------------------------------------
total = in_currency(query(earnings.totals, filters, by=None), currency)
if total.empty:
    st.info("No earned payments under these filters yet: contracts without payments (active ones, or exports "
            "without payment rows) have nothing to add up.", icon=":material/payments:")
else:
    row = total.iloc[0]
    cells = metric_row()
    cells.metric(f"Gross ({currency})", money(row["gross"]), border=True, help="What clients paid, in earned payments.")
    cells.metric(f"Fees ({currency})", money(row["fees"]), border=True, help="What the platforms took from those payments.")
    cells.metric(f"Net ({currency})", money(row["net"]), border=True, help="Gross minus platform fees.")
    cells.metric("Effective fee rate", share(row["effective_fee_rate"]), border=True, help="Fees ÷ gross.")
    cells.metric(f"Bonuses ({currency})", money(row["bonuses"]), border=True,
                    help=f"Included in gross. Refunds (also included, negative): {money(row['refunds'])}.")

by_structure = in_currency(query(earnings.totals, filters, by="structure"), currency)
show_money_table(by_structure.assign(structure=by_structure["structure"].map(STRUCTURE_LABELS)),
                 "earnings-by-structure", key="earnings_structure",
                 caption="By payment structure. Bonuses and refunds are part of gross and shown again on their own; "
                         "contracts counts those with at least one payment.",
                 money=("gross", "fees", "net", "bonuses", "refunds"), **FEE_RATE)

# --- over time ------------------------------------------------------------------------------
st.subheader("Over time")
months = query(earnings.months, filters)
show_chart(charts.earnings_by_month(months, currency), "earnings_by_month", height=400)
undated = in_currency(months, currency)
undated = undated[undated["month"] == "undated"]
if not undated.empty:
    st.caption(f"{int(undated['payments'].sum()):,} payments without a date (contract-level totals, gross "
               f"{money(float(undated['gross'].sum()), currency)}) are in the totals but not in the chart.")
with st.expander("The months as a table"):
    show_money_table(in_currency(months, currency), "earnings-by-month", key="earnings_months",
                     money=("gross", "fees", "net", "bonuses", "refunds"), **FEE_RATE)

# --- by client and freelancer -------------------------------------------------------------------
st.subheader("By client and by freelancer")
key = st.segmented_control("Show earnings by", ["client", "freelancer"], default="client", required=True,
                           key="earnings_group", format_func=str.capitalize)
# Every group (an agency has thousands of clients): the table shows the first TOP_GROUPS, the CSV all of them.
groups = query(earnings.totals, filters, by=key)
mine = in_currency(groups, currency)
top_bars_caption(len(mine), key, "largest gross", f"with gross in {escape_markdown(currency)}")
show_chart(charts.earnings_by(groups, key, currency, title=f"The {key}s with the largest earnings ({currency})"),
           f"earnings_by_{key}", height=480)
show_money_table(mine.head(TOP_GROUPS), f"earnings-by-{key}", key=f"earnings_{key}", download=mine,
                 caption=(f"The top {TOP_GROUPS} of {plural(len(mine), key)} with gross in {currency}, largest first; "
                          f"the CSV holds all {len(mine):,}." if len(mine) > TOP_GROUPS
                          else f"The {plural(len(mine), key)} with gross in {currency}, largest first."),
                 money=("gross", "fees", "net", "bonuses", "refunds"), **FEE_RATE)

# --- realised vs agreed ----------------------------------------------------------------------
st.subheader("Agreed against paid")
realised = query(earnings.realised_vs_agreed, filters)
mine = in_currency(realised, currency)
# Below 30 cancelled contracts on a side: counts and amounts, no comparison (as the HTML report says it).
paid_when_cancelled = earnings.paid_when_cancelled_sentence(mine, escape_markdown(currency),
                                                             strong=lambda text: f"**{text}**")
if paid_when_cancelled:
    st.markdown(paid_when_cancelled)
show_chart(charts.realised_share(realised, currency), "realised_share", height=400)
show_money_table(mine.assign(structure=mine["structure"].map(STRUCTURE_LABELS)), "agreed-vs-paid",
                 key="earnings_realised",
                 caption="Fixed-price contracts: what was paid toward the agreed budget (bonuses not counted). Contracts "
                         "without a known budget are counted under *budget unknown* and left out of the sums.",
                 money=("agreed", "paid"), as_text={"realised_share": share},  # "44 %", as the reports write it
                 column_config={"realised_share": "paid ÷ agreed", "budget_unknown": "budget unknown"})

# --- losses on cancellation ---------------------------------------------------------------
st.subheader("What cancellations left unpaid")
unpaid = in_currency(query(earnings.unpaid_on_cancellation, filters), currency)
# Contracts whose status is unknown (a transaction history says none) may be cancelled ones.
statuses = query(cancellation.rates_by_structure, dataclasses.replace(filters, currency=(currency,)))
no_status = int(statuses.loc[statuses["structure"].isin(["milestones", "single"]), "status_unknown"].sum())
if no_status:
    st.info(f"{counted(no_status, 'fixed-price contract')} no status yet, so what cancellations left unpaid "
            + ("is unknown" if unpaid.empty else "may be more than shown")
            + ": complete their status and budget on the Data page (Complete contracts tab).", icon=":material/help:")
if unpaid.empty and not no_status:
    st.success("No cancelled or disputed fixed-price contracts under these filters.", icon=":material/check_circle:")
elif not unpaid.empty:
    by = unpaid.set_index("structure")
    cells = metric_row()
    for structure in ("milestones", "single"):
        if structure in by.index:
            n = int(by.at[structure, "cancelled_contracts"])
            cells.metric(f"Unpaid: {STRUCTURE_LABELS[structure].lower()} ({currency})",
                        money(by.at[structure, "unpaid_on_cancellation"]), border=True,
                        help=f"Agreed minus paid over {n:,} cancelled or disputed contracts; "
                             f"{money(by.at[structure, 'unpaid_on_cancellation'] / n if n else None)} per contract.")
    unknown_budget = int(unpaid["budget_unknown"].sum())
    if unknown_budget:  # left out of the sums: "0" would read as nothing lost
        st.warning(f"{counted(unknown_budget, 'cancelled or disputed contract')} no known budget: what "
                   f"{'it' if unknown_budget == 1 else 'they'} left unpaid is not in these figures; give the budget on "
                   "the Data page (Complete contracts tab).", icon=":material/help:")
    show_money_table(unpaid.assign(structure=unpaid["structure"].map(STRUCTURE_LABELS)), "unpaid-on-cancellation",
                     key="earnings_unpaid",
                     caption="Budget minus what was paid toward it, over cancelled and disputed fixed-price contracts "
                             "(a contract paid more than its budget counts 0).",
                     money=("agreed", "paid", "unpaid_on_cancellation"), column_config={"budget_unknown": "budget unknown"})

# --- pending and account costs --------------------------------------------------------------
pending = query(earnings.pending, filters)
if not pending.empty:
    st.subheader("Not earned yet")
    show_money_table(pending, "pending-payments", key="earnings_pending",
                     caption="Payments a platform lists as pending (no balance yet): not counted in the earnings above.",
                     money=("gross", "fees"))

st.subheader("Costs of the account itself")
costs = query(earnings.account_costs, filters)
if costs.empty:
    st.caption("No account costs (withdrawal fees, connects, memberships) in the workspace under these filters.")
else:
    st.caption("Withdrawal fees, connects and memberships belong to no contract, so they are not contract fees and are "
               "not in the figures above; nor is a service fee whose payment no import has brought yet, counted here "
               "until it is. Only the date range (on the payment date) and the currency filter apply.")
    # One figure: importers book a cost as a fee on nothing or as a negative amount ("amount 0.00, fees 12.00").
    costs_shown = costs.assign(cost=costs["fees"] - costs["amount"])[["currency", "items", "cost", "first_date", "last_date"]]
    show_money_table(costs_shown, "account-costs", key="earnings_account_costs", money=("cost",), column_config={
        "first_date": st.column_config.DateColumn("first"), "last_date": st.column_config.DateColumn("last")})
    mine = in_currency(costs, currency)
    narrowed = earnings.contract_filters_in(filters)
    if narrowed:  # the costs are the whole account's: taken off one client's net they would mislead
        st.caption(f"Not taken off the net above: it is narrowed by {' and '.join(narrowed)}, and these costs are "
                   "the whole account's.")
    elif not mine.empty and not total.empty:
        after_costs = earnings.net_after_account_costs(float(total.iloc[0]["net"]), mine)
        st.markdown(f"Net earnings after these account costs: **{money(after_costs, escape_markdown(currency))}**.")

unclassified = query(earnings.unclassified, filters)
if not unclassified.empty:
    st.subheader("Money of unknown kinds")
    show_money_table(unclassified[["currency", "items", "amount", "first_date", "last_date", "descriptions"]],
                     "unclassified-money", key="earnings_unclassified", money=("amount",),
                     caption="Transactions of types the import did not know (named in its warnings), kept as imported: "
                             "they belong to no contract, so they are not in the earnings or the net above. Only the "
                             "date range and the currency filter apply.",
                     column_config={"first_date": st.column_config.DateColumn("first"),
                                    "last_date": st.column_config.DateColumn("last"),
                                    "descriptions": "as the export wrote them"})
