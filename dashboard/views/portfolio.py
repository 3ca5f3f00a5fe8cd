"""Portfolio risk (agencies): what active contracts still have at stake, how much of it sits in escrow,
what the history says may be lost, by freelancer and client down to single contracts, and how
concentrated earnings are on a few clients."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import exposure
from analysis.filters import SMALL_SAMPLE_FINISHED
from analysis.wording import counted, plural, sentence
from dashboard import charts
from dashboard.analysis_pages import (
    contracts_or_stop, in_currency, metric_row, money, page_header, report_currency, share, show_chart,
    show_money_table, top_bars_caption,
)
from dashboard.charts import STRUCTURE_LABELS
from dashboard.state import query
from dashboard.tables import count_column, escape_markdown

GROUP_LABELS = {"freelancer": "Freelancer", "client": "Client", "structure": "Payment structure", "platform": "Platform"}
#: What ``analysis.exposure.GROUPINGS`` shows for a missing name, per dimension.
MISSING_NAMES = {"client": "(no client)", "freelancer": "(no freelancer)", "platform": "(none)"}
BASIS_WORDS = dict(exposure.CANCEL_PROBABILITY_LEVELS) | {"no history": "no finished contracts to learn from"}
ALL = "All active contracts"
MONEY_COLUMNS = ("budget", "paid", "remaining", "funded", "unfunded", "submitted", "expected_loss")


def contracts_of(active: pd.DataFrame, key: str, group: str) -> pd.DataFrame:
    """The active contracts behind one row of the grouped exposure table."""
    if group == ALL:
        return active
    if key == "structure":
        return active[active["structure"] == group]
    if group == MISSING_NAMES.get(key):
        return active[active[key].isna()]
    return active[active[key] == group]


def ranking(rows: pd.DataFrame) -> tuple[str, str]:
    """How ``exposure.RISK_ORDER`` ranks ``rows``, as a chart caption and a table caption say it: by expected loss,
    then by what is still to be paid where the expected loss (unknown, or 0) cannot tell those with money at stake
    apart."""
    loss = rows.loc[rows["remaining"] > 0, "expected_loss"]
    if (loss > 0).all():
        return "largest expected loss", "largest expected loss first"
    if (loss > 0).any():
        return ("largest expected loss, then the most still to be paid",
                "largest expected loss first, then the most still to be paid")
    return "most still to be paid", "most still to be paid first (no expected loss to rank by)"


def concentration_words(hhi: float) -> str:
    """The Herfindahl–Hirschman index in words, with the thresholds competition authorities use."""
    if hhi < 0.15:
        return "spread over many clients"
    if hhi < 0.25:
        return "moderately concentrated"
    return "concentrated on a few clients"


filters = page_header("Portfolio risk", "What your active contracts still have at stake, how much of it is protected "
                                        "in escrow, and what your own history says could be lost.")
rates = contracts_or_stop(filters)
currency = report_currency(filters)
unknown = int(rates["status_unknown"].sum())

# --- exposure -------------------------------------------------------------------------------
st.subheader("What active contracts still have at stake")
every_currency = query(exposure.exposure, filters)
totals = in_currency(every_currency, currency)
elsewhere = every_currency[every_currency["currency"] != currency]
if not elsewhere.empty:  # counted apart, like their amounts: the Overview's count of active contracts has them
    listed = ", ".join(f"{int(n):,} in {escape_markdown(c)}" for c, n in zip(elsewhere["currency"], elsewhere["active"]))
    # How to see them is said once, in the page's currency note above.
    st.caption(f"Active contracts in other currencies ({listed}) are not in these figures.")
if totals.empty and unknown:
    st.info(f"No contract is known to be active{' in ' + escape_markdown(currency) if currency else ''}, but "
            f"{counted(unknown, 'contract')} no status yet (a transaction history cannot say): those still running are "
            "not counted here until you complete them on the Data page. Concentration of past earnings is below.",
            icon=":material/help:")
elif totals.empty:
    st.info(f"No active contracts{' in ' + escape_markdown(currency) if currency else ''} under these filters: nothing "
            "is at stake right now. Concentration of past earnings is below.", icon=":material/task_alt:")
else:
    row = totals.iloc[0]
    remaining = float(row["remaining"])
    cells = metric_row()
    cells.metric("Active contracts", f"{int(row['active']):,}", border=True,
                    help=f"{int(row['valued']):,} fixed-price with a budget are valued; {int(row['hourly_active']):,} hourly "
                         f"and {int(row['budget_unknown']):,} without a budget are counted only.")
    cells.metric(f"Still to be paid ({currency})", money(remaining), border=True,
                    help="Agreed budget minus what was already paid, over the valued active contracts.")
    # unknown, not 0, when nothing records whether the money is in escrow (``exposure.funding_caveat``)
    funding_unknown = pd.isna(row["funded"])
    cells.metric(f"In escrow ({currency})", "unknown" if funding_unknown else money(row["funded"]), border=True,
                    help="Unpaid milestones the client already funded: protected on platforms with escrow.")
    cells.metric(f"Not funded ({currency})", "unknown" if funding_unknown else money(row["unfunded"]), border=True,
                    help="Agreed but not in escrow: lost if the client walks away.")
    # Fewer than 30 finished contracts in the whole history: the estimate comes from all of them, not similar ones.
    rough = exposure.rough_history(row)
    cells.metric(f"Expected loss ({currency})", money(row["expected_loss"]), border=True,
                    help="Still to be paid × the share of similar contracts in your history that were cancelled."
                    if rough is None else
                    f"Still to be paid × the share cancelled among all {rough:,} finished contracts of your history, "
                    f"of every kind: no group of similar contracts has {SMALL_SAMPLE_FINISHED} finished yet.")
    if remaining > 0:
        loss = ("" if int(row["no_history"]) else
                f" Judging by how often similar contracts were cancelled in your history, expect to lose about "
                f"**{money(row['expected_loss'], currency)}** of it." if rough is None else
                f" As a rough guide from the {plural(rough, 'finished contract')} of every kind in your history (too "
                f"few to compare similar ones), expect to lose about **{money(row['expected_loss'], currency)}** of it.")
        known = remaining - float(row["funding_unknown_remaining"])
        if funding_unknown:
            funding = "Whether any of it is funded in escrow is unknown."
        else:
            of_known = f"Of the **{money(known, currency)}** whose funding is known, " if known < remaining else ""
            funding = (f"{of_known}**{share(row['funded'] / known) if known > 0 else '—'}** "
                       f"{'is' if of_known else 'of it is'} funded in escrow; **{money(row['unfunded'], currency)}** is not.")
        st.markdown(
            f"Your {counted(row['valued'], 'valued active contract')} **{money(remaining, currency)}** still to be paid. "
            + funding + loss)
    # unknown funding, an unknown or rough expected loss: as the reports say them
    for caveat in (exposure.funding_caveat(row), exposure.expected_loss_caveat(row)):
        if caveat:
            st.warning(caveat, icon=":material/warning:")
    active = in_currency(query(exposure.active_contracts, filters, limit=None), currency)
    notes = []
    if int(row["hourly_active"]):
        notes.append(f"{counted(row['hourly_active'], 'hourly contract')} no agreed total: counted, not valued")
    if int(row["budget_unknown"]):
        notes.append(f"{counted(row['budget_unknown'], 'fixed-price contract')} no known budget (complete them on the Data page)")
    if notes:
        text = "; ".join(notes)
        st.caption(sentence(text))
    with st.expander("How the cancellation probability of each contract is estimated"):
        st.markdown(f"From the finished contracts of the whole workspace (the sidebar filters do not narrow the history), "
                    f"taken as narrowly as the history allows: the first of these groups with at least "
                    f"{SMALL_SAMPLE_FINISHED} finished contracts is used. When even all finished contracts together are "
                    f"fewer than {SMALL_SAMPLE_FINISHED}, they are used anyway: a rough guide from contracts of every "
                    "kind, not similar ones.")
        if rough is not None:
            st.markdown(f"Your history has only {plural(rough, 'finished contract')}: every estimate here comes "
                        f"from all of them, of every kind, not from similar contracts.")
        st.markdown("\n".join(f"{i}. {words}" for i, (_, words) in enumerate(exposure.CANCEL_PROBABILITY_LEVELS, 1)))
        # its rows have no currency for ``in_currency`` to pick: asked for the page's currency only
        basis = query(exposure.probability_basis, filters.with_currency(currency))
        show_money_table(basis.assign(basis=basis["basis"].map(lambda b: BASIS_WORDS.get(b, b))),
                         "probability-basis",
                         key="portfolio_basis", caption="Valued active contracts by the group their probability came from.")

    # --- by group, and down to contracts ------------------------------------------------------
    st.subheader("Where the risk sits")
    key = st.segmented_control("Group by", list(GROUP_LABELS), format_func=GROUP_LABELS.get, default="freelancer",
                               key="portfolio_group", required=True)
    grouped = query(exposure.exposure, filters, by=key)
    mine = in_currency(grouped, currency)
    if key == "structure":
        mine = mine.assign(structure=mine["structure"].map(STRUCTURE_LABELS).fillna(mine["structure"]))
    ranked_by, listed_by = ranking(mine)
    top_bars_caption(int((mine["remaining"] > 0).sum()), GROUP_LABELS[key].lower(), ranked_by,
                     "with money still to be paid (the table below lists them all)")
    show_chart(charts.exposure_by(mine, key, currency,
                                  title=f"Still to be paid by {GROUP_LABELS[key].lower()}: funded or not ({currency})"),
               f"exposure_by_{key}", height=460)
    show_money_table(mine, f"exposure-by-{key}", key=f"portfolio_by_{key}",
                     caption=f"{listed_by.capitalize()}. Hourly and budget-less contracts are counted in their own columns.",
                     money=("remaining", "funded", "unfunded", "submitted", "expected_loss"),
                     column_config={"hourly_active": "hourly (not valued)", "budget_unknown": "budget unknown",
                                    "no_history": "no history"})

    st.markdown(f"**Drill down: the contracts behind a {GROUP_LABELS[key].lower()}**")
    groups = list(in_currency(grouped, currency)[key])
    chosen = st.selectbox(GROUP_LABELS[key], [ALL, *groups], key=f"portfolio_drill_{key}",
                          format_func=lambda g: STRUCTURE_LABELS.get(g, g) if key == "structure" else g)
    picked = contracts_of(active, key, chosen)
    show_money_table(picked, f"active-contracts-{chosen}", key="portfolio_drill",
                     caption=f"{len(picked):,} active contract{'' if len(picked) == 1 else 's'}, {ranking(picked)[1]}."
                             + (" Hourly contracts have no agreed total, so their amounts are empty."
                                if (picked["structure"] == "hourly").any() else ""),
                     empty_message="No active contracts in this group.",
                     money=MONEY_COLUMNS,
                     column_config={"p_cancel": st.column_config.NumberColumn("cancel probability", format="percent"),
                                    "p_basis": st.column_config.TextColumn("estimated from"),
                                    "p_finished": count_column("finished contracts behind it"),
                                    "start_date": st.column_config.DateColumn("started"),
                                    "planned_end_date": st.column_config.DateColumn("planned end")})

# --- concentration -------------------------------------------------------------------------
st.subheader("How much depends on a few clients")
conc = in_currency(query(exposure.concentration, filters), currency)
if conc.empty:
    st.info("No payments from named clients under these filters, so there is nothing to measure concentration on.",
            icon=":material/group:")
else:
    c = conc.iloc[0]
    cells = metric_row()
    cells.metric("Paying clients", f"{int(c['clients']):,}", border=True)
    cells.metric("Largest client's share", share(c["largest_share"]), border=True,
                    help=f"{escape_markdown(c['largest_client'])}, of gross earnings in {escape_markdown(currency)}.")
    cells.metric("Concentration (HHI)", f"{c['hhi']:.3f}", border=True,
                    help="Herfindahl–Hirschman index: the sum of squared client shares, from near 0 (many equal "
                         "clients) to 1 (one client). Competition authorities call markets above 0.15 moderately and "
                         "above 0.25 highly concentrated.")
    spread = plural(round(1 / c["hhi"]), "equally large client") if c["hhi"] > 0 else "many clients"
    if filters.client:  # the filter chose the clients: their spread says nothing about the whole business
        st.caption(f"Measured among the {plural(int(c['clients']), 'paying client')} the client filter picks, not over "
                   "all your clients: clear that filter in the sidebar to see how much your earnings depend on a few.")
    else:
        st.markdown(f"Your earnings in {escape_markdown(currency)} are **{concentration_words(c['hhi'])}**: as spread "
                    f"as if they came from about **{spread}**. The largest, "
                    f"{escape_markdown(c['largest_client'])}, brought {share(c['largest_share'])}.")
    if c["unattributed_gross"]:
        st.caption(f"{money(c['unattributed_gross'], currency)} came from contracts without a client name and is left out.")
    top = in_currency(query(exposure.top_clients, filters, limit=10), currency)
    show_money_table(top, "top-clients", key="portfolio_top_clients", money=("gross",),
                     caption="The ten clients with the largest share of gross.",
                     column_config={"share": st.column_config.ProgressColumn("share of gross", format="percent",
                                                                             min_value=0.0, max_value=1.0)})
