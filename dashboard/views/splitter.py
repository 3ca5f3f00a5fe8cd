"""Milestone splitter: plan the next contract. Budget, days and platform in; a milestone schedule,
the plan against one payment at the end, expected cash by day, every possible outcome and a
recommendation out — with the cancellation risk taken from the workspace's history or set by hand.
The inputs live in the URL, so a copied link opens the same plan. The model is ``analysis.splitter``;
this page only collects inputs and shows its results."""

from __future__ import annotations

import math
import re

import pandas as pd
import streamlit as st

from analysis import splitter, store
from analysis.errors import UserError
from analysis.filters import Filters
from analysis.platforms import PRESETS
from analysis.wording import plural, sentence
from dashboard.analysis_pages import page_header, show_chart, today
from dashboard.inputs import SPLITTER_DEFAULTS
from dashboard.splitter_charts import cash_curve_figure, outcome_distribution_figure
from dashboard.sidebar import link_ignored_warning
from dashboard.state import computed, query, workspace
from dashboard.tables import escape_markdown, show_table

COUNT, AMOUNTS = "count", "amounts"
#: Every input is kept in the page's link (``?split_budget=800&split_milestones=4``), so a plan can be
#: bookmarked or sent as it is; the keys carry ``split_`` so none meets a sidebar filter's parameter.
URL = "query-params"
HISTORY, MANUAL = "history", "manual"
MODE_LABELS = {COUNT: "into a number of milestones", AMOUNTS: "into amounts I choose"}
SHAPE_LABELS = {"equal": "equal", "front-loaded": "larger first", "back-loaded": "larger last"}
HAZARD_LABELS = {"constant": "evenly over the contract", "front-heavy": "mostly early", "back-heavy": "mostly late"}
RISK_LABELS = {HISTORY: "from my history", MANUAL: "as I set it"}
#: Each choice's options and the labels shown. Streamlit's binding writes (and reads) the label in the link;
#: a link made by hand may name the option as ``milestone-lens split`` does (``split_platform=freelancer``).
CHOICES: dict[str, dict[str, str]] = {
    "split_platform": {key: preset.label for key, preset in PRESETS.items()}, "split_mode": MODE_LABELS,
    "split_shape": SHAPE_LABELS, "split_hazard": HAZARD_LABELS, "split_risk_mode": RISK_LABELS,
}
#: Every parameter the page's link can carry.
LINK_KEYS = (*SPLITTER_DEFAULTS, "split_risk_mode", "split_review_days")
#: The link as the session first opened the page; whether each of its inputs took its value.
_LINK_OPENED, _LINK_JUDGED = "_split_link_opened", "_split_link_judged"


def parse_amounts(text: str) -> list[float]:
    """``30, 30, 30`` (or separated by semicolons or spaces) → numbers; ``UserError`` naming a bad entry."""
    parts = [p for p in re.split(r"[;,\s]+", text.strip()) if p]
    if not parts:
        raise UserError("enter the milestone amounts, separated by commas (e.g. 30, 30, 30, 30, 30)")
    values = []
    for i, part in enumerate(parts, 1):
        try:
            values.append(float(part.replace("$", "")))
        except ValueError:
            raise UserError(f"amount {i}: '{part}' is not a number") from None
        if re.fullmatch(r"[$]?\d*\.\d{3,}", part):  # "1.234,50" split at its comma: a thousands point, not cents
            raise UserError(f"amount {i}: '{part}' has more than two decimals; write cents after a point and no "
                            "thousands separator (1234.50), and separate the amounts with commas")
    return values


def amounts_from_the_plan() -> None:
    """Radio callback: choosing "amounts I choose" starts from the current plan's amounts, not the
    first visit's (they must add up to the budget)."""
    if st.session_state["split_mode"] != AMOUNTS:
        return
    try:
        plan = splitter.make_plan(st.session_state["split_budget"], st.session_state["split_days"],
                                  milestones=int(st.session_state["split_milestones"]),
                                  shape=st.session_state["split_shape"])
    except UserError:
        return  # the inputs do not make a plan: the page says why
    st.session_state["split_amounts"] = ", ".join(f"{m.amount:g}" for m in plan.milestones)


def use_recommendation(count: int) -> None:
    """Button callback: switch the inputs to the recommended number of milestones."""
    st.session_state["split_mode"] = COUNT
    st.session_state["split_milestones"] = int(count)


def use_review_days(days: float) -> None:
    """Button callback: plan with the release time the history shows."""
    st.session_state["split_review_days"] = float(days)


def choice_label(asked: str | None, labels: dict[str, str]) -> str | None:
    """The label of the option ``asked`` names by its key or label, in any case; None when it names none."""
    wanted = (asked or "").strip().casefold()
    return next((label for option, label in labels.items() if wanted in (option.casefold(), label.casefold())), None)


def read_link() -> None:
    """On the page's first run: keep the link as opened, and rewrite choices it names by key or in another case
    to the label Streamlit's binding reads (else it would drop them and show the first value without a word)."""
    if _LINK_OPENED in st.session_state:
        return
    opened = {key: st.query_params[key] for key in st.query_params if key.startswith("split_")}
    st.session_state[_LINK_OPENED], st.session_state[_LINK_JUDGED] = opened, {}
    fixed = {key: choice_label(opened[key], labels) for key, labels in CHOICES.items() if key in opened}
    fixed = {key: label for key, label in fixed.items() if label is not None and label != opened[key]}
    for key, label in fixed.items():
        st.query_params[key] = label
    if fixed:  # the widgets read the link when they are made: run again on the link as it should be
        st.rerun()


def took(asked: str, value: object, labels: dict[str, str] | None) -> bool:
    """Whether an input's value is what the link asked for."""
    if labels is not None:
        return choice_label(asked, labels) == labels.get(value)
    if value is None or isinstance(value, str):
        return asked.strip() == (value or "").strip()
    try:
        return math.isclose(float(asked), float(value))
    except ValueError:
        return False


def link_ignored(values: dict[str, object]) -> list[str]:
    """``key 'value'`` for each part of the link as opened that its input did not take (judged when the input is
    first drawn; said until that input changes), and for parameters the page does not know."""
    opened, judged = st.session_state.get(_LINK_OPENED, {}), st.session_state.setdefault(_LINK_JUDGED, {})
    for key, value in values.items():
        if key in opened and key not in judged:
            judged[key] = (took(opened[key], value, CHOICES.get(key)), value)
    return [f"{key} '{asked}'" for key, asked in opened.items()
            if key not in LINK_KEYS or key in values and key in judged and not judged[key][0] and values[key] == judged[key][1]]


def show_link_ignored(values: dict[str, object]) -> None:
    with link_notice.container():
        link_ignored_warning([("not a value its input takes, or not one of its parameters", link_ignored(values))],
                             "the splitter cannot take")


def days_text(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.1f} days"


def shown(measure: str, value: float | None) -> str:
    """One cell of the comparison table: a chance as a percentage, days with one decimal, money in cents."""
    if value is None or not math.isfinite(value):
        return "—"
    if measure.startswith("Chance"):
        return f"{value:.1%}"
    if "days" in measure.lower():
        return f"{value:.1f}"
    return f"{value:,.2f}"


def first(key: str):
    """An input's first value, given to its widget as the widget's own default: Streamlit leaves a bound
    widget's parameter out of the link only when it equals that default, and with none given the default was
    the lowest value, so ``?split_milestones=1`` (or 0 %, or day 1) was dropped and the page's first value shown."""
    return SPLITTER_DEFAULTS[key]


def first_index(key: str, options) -> int:
    """``first`` for a select or radio: the position of its first value."""
    return list(options).index(SPLITTER_DEFAULTS[key])


filters = page_header("Milestone splitter", "Plan your next contract: how a milestone plan compares with one payment at "
                                            "the end in money, risk and time — before you agree it with the client.",
                      shows_filtered=False)
read_link()
link_notice = st.empty()  # filled once the inputs have read the link
others = Filters.from_dict({k: v for k, v in filters.to_dict().items() if k != "currency"})
if not others.is_empty():  # the history's risk is read per currency only: say so rather than "Showing …"
    st.caption(f"The sidebar's filters ({escape_markdown(others.describe())}) do not apply here: the risk from your "
               "history uses the currency filter only.")
has_history = not store.is_empty(workspace())

# --- inputs ---------------------------------------------------------------------------------
with st.container(border=True):
    st.markdown("**The contract**")
    # The platform on a row of its own: its labels are long ("Upwork (flat 10 %, since May 2023)") and were cut
    # off at a third of an 800-pixel window.
    platform = st.selectbox("Platform", list(PRESETS), format_func=CHOICES["split_platform"].get, key="split_platform", bind=URL,
                            index=first_index("split_platform", PRESETS),
                            help="Fees, the client's review window and the hold before money can be withdrawn.")
    c2, c3 = st.columns(2)
    budget = c2.number_input("Budget", min_value=0.01, value=first("split_budget"), step=10.0, format="%.2f", key="split_budget", bind=URL,
                             help="The agreed total price.")
    days = c3.number_input("Working days", min_value=0.5, value=first("split_days"), step=1.0, format="%g", key="split_days", bind=URL,
                           help="From the start to delivery, working at a steady pace.")
    mode = st.radio("Split the budget", [COUNT, AMOUNTS], horizontal=True, key="split_mode", bind=URL, on_change=amounts_from_the_plan,
                    index=first_index("split_mode", [COUNT, AMOUNTS]),
                    format_func=MODE_LABELS.get)
    if mode == COUNT:
        c1, c2 = st.columns(2)
        count = int(c1.number_input("Milestones", min_value=1, max_value=splitter.MAX_MILESTONES, step=1,
                                    value=first("split_milestones"), key="split_milestones", bind=URL))
        shape = c2.selectbox("Sizes", list(splitter.SPLIT_SHAPES), key="split_shape", bind=URL,
                             index=first_index("split_shape", splitter.SPLIT_SHAPES),
                             format_func=SHAPE_LABELS.get,
                             help="Front-loaded plans ask for more early (less at stake later); back-loaded the opposite.")
        amounts_text = None
    else:
        amounts_text = st.text_input("Amounts, in order, separated by commas", key="split_amounts", bind=URL, value=first("split_amounts"),
                                     help="They must add up to the budget.")
        count, shape = None, "equal"
    with st.expander("More options"):
        c1, c2 = st.columns(2)
        wait_days = c1.number_input("Days you wait after each submission before starting the next", min_value=0.0,
                                    value=first("split_wait_days"), step=1.0, format="%g", key="split_wait_days", bind=URL,
                                    help="E.g. waiting for the client's approval and the next milestone's funding.")
        billed_before = c2.number_input("Already billed with this client", min_value=0.0, value=first("split_billed_before"),
                                        step=100.0, format="%.2f", key="split_billed_before", bind=URL,
                                        help="Only matters for Upwork's 2016–2023 sliding fee (20 % of the first 500).")
        review_days = c1.number_input(
            "Days your client takes to release a payment after a hand-in", min_value=0.0, max_value=splitter.MAX_DAYS,
            value=None, step=1.0, format="%g", key="split_review_days", bind=URL,
            placeholder=f"the platform's longest: {PRESETS[platform].review_days:g}",
            help="Empty: the longest the platform allows before it releases the payment itself (Upwork: 14 days). "
                 "Your own clients' typical time is on the Payment timing page (submission → payment).")
        review_history = query(splitter.review_history, platform) if has_history else None
        if review_history is not None:
            c2.caption(escape_markdown(sentence(review_history.message)))
            typical = review_history.median_days
            if typical is not None and review_days != typical:
                c2.button(f"Use {typical:g} days", on_click=use_review_days, args=(typical,),
                          icon=":material/history:", key="split_use_review_days")

with st.container(border=True):
    st.markdown("**The risk that the client cancels**")
    risk_mode = st.radio("Take the risk", [HISTORY, MANUAL], index=0 if has_history else 1, horizontal=True,
                         key="split_risk_mode", bind=URL,
                         format_func=RISK_LABELS.get)
    if risk_mode == MANUAL:
        c1, c2 = st.columns(2)
        cancel_percent = c1.slider("Chance the client cancels before the end", 0, 100, first("split_cancel_percent"),
                                   format="%d %%", key="split_cancel_percent", bind=URL,
                                   help="At 100 % the model has the client cancel at once; just below it a client "
                                        "may still last a while (at 99 % with cancellations evenly over the contract, "
                                        "about a third reach a quarter of the way).")
        hazard = c2.selectbox("When cancellations happen", list(splitter.HAZARD_SHAPES), key="split_hazard", bind=URL,
                              index=first_index("split_hazard", splitter.HAZARD_SHAPES),
                              format_func=HAZARD_LABELS.get)
    max_loss_percent = st.slider("Most of the budget you are willing to have at stake at any moment",
                                 5, 100, first("split_max_loss_percent"), step=5, format="%d %%",
                                 key="split_max_loss_percent", bind=URL,
                                 help="The recommendation picks the fewest milestones that keep finished-but-unpaid "
                                      "work within this share.")

drawn = {"split_platform": platform, "split_budget": budget, "split_days": days, "split_mode": mode,
         "split_wait_days": wait_days, "split_billed_before": billed_before, "split_review_days": review_days,
         "split_risk_mode": risk_mode, "split_max_loss_percent": max_loss_percent}
drawn |= ({"split_milestones": count, "split_shape": shape} if mode == COUNT else {"split_amounts": amounts_text})
if risk_mode == MANUAL:
    drawn |= {"split_cancel_percent": cancel_percent, "split_hazard": hazard}
show_link_ignored(drawn)

# --- the model ------------------------------------------------------------------------------
try:
    terms = splitter.platform_terms(platform, review_days=review_days)
    amounts = parse_amounts(amounts_text) if amounts_text is not None else None
    plan = splitter.make_plan(budget, days, milestones=count, amounts=amounts, shape=shape, wait_days=wait_days,
                              terms=terms)
    if risk_mode == HISTORY:
        structure = "milestones" if len(plan.milestones) > 1 else "single"
        currency = filters.values("currency") or None  # of several, calibrate picks the report's
        plan_cal = query(splitter.calibrate, budget, structure, currency=currency, as_of=today())
        single_cal = plan_cal if structure == "single" else query(splitter.calibrate, budget, "single",
                                                                    currency=currency, as_of=today())
        plan_risk, single_risk = splitter.comparable_risks(plan_cal, single_cal)
    else:
        plan_risk = single_risk = splitter.make_risk(cancel_percent / 100, hazard)
    comparison = splitter.compare(plan, terms, plan_risk, single_risk, billed_before=billed_before)
    recommendation = computed(splitter.recommend, budget, days, terms, plan_risk, max_loss_share=max_loss_percent / 100,
                                        shape=shape, single_risk=single_risk, wait_days=wait_days,
                                        billed_before=billed_before)
except UserError as exc:
    exc = exc if amounts_text is None else splitter.amounts_error(exc, amounts_text, budget)
    st.error(sentence(str(exc)), icon=":material/error:")
    st.stop()

p, s = comparison.plan_outcome, comparison.single_outcome
certain = splitter.certain_cancellation(plan_risk, single_risk)  # names only the side it applies to
if certain:
    st.warning(sentence(certain), icon=":material/block:")
if risk_mode == HISTORY:  # the history plainly against the default the figures run on: said first, not in passing
    for contradiction in splitter.history_warnings(plan_cal, single_cal, plan_risk, single_risk):
        st.warning(f"{escape_markdown(sentence(contradiction))} To plan with your history's rate, take the risk "
                   "*as I set it*.", icon=":material/warning:")
n = len(plan.milestones)
plan_name = plural(n, "milestone")
unprotected = not splitter.protects_handins(terms)  # no escrow and a review delay: hand-ins stay at stake

if risk_mode == HISTORY:
    with st.container(border=True):
        scope = (f"{escape_markdown(plan_cal.currency)} contracts" if plan_cal.currency else "contracts")
        picked = filters.values("currency")
        chosen = ("" if len(picked) == 1 or not plan_cal.currency
                  else f" (the currency {'of those picked ' if picked else ''}with the most fixed-price contracts; "
                       "budgets are never compared across currencies)")
        st.caption(f"Estimated from the finished fixed-price {scope}{chosen} of the workspace with a budget near "
                   f"{budget:,.2f} (the other sidebar filters do not apply). Cancellation before the planned end (or "
                   "after it, when a late contract lost its last payment); the timing is fitted to when in the "
                   "contract cancellations happened.")
        for label, cal in (("Milestone contracts" if plan_cal.structure == "milestones" else "Single-payment contracts", plan_cal),
                           ("Single-payment contracts", single_cal)):
            text = escape_markdown(cal.message[:1].upper() + cal.message[1:])
            (st.warning if cal.fallback else st.markdown)(f"**{label}:** {text}.")
            if cal is single_cal or plan_cal is single_cal:
                break
        caveat = splitter.observed_not_caused(plan_risk, single_risk)
        if caveat:
            st.caption(f"{caveat[:1].upper()}{caveat[1:]}.")
        if plan_cal is not single_cal and (plan_cal.fallback or single_cal.fallback):
            st.caption("With too little history the same stated default applies to both, so the comparison then shows "
                       "only what the split itself changes.")

# --- schedule -------------------------------------------------------------------------------
st.subheader("The schedule")
# Days and chances as a reader takes them in (and as the CSV gives them): 3.33 days, 88.5 %, not 0.8849999999999998.
schedule = p.milestones.assign(net=p.milestones["amount"] - p.milestones["fee"])[
    ["seq", "amount", "fee", "net", "start_day", "due_day", "expected_release_day", "prob_paid"]].round(
    {"amount": 2, "fee": 2, "net": 2, "start_day": 2, "due_day": 2, "expected_release_day": 2, "prob_paid": 3})
held = f", then the money is held {terms.hold_days:g} days before you can withdraw it" if terms.hold_days else ""
if review_days is not None:
    review_text = f"your client releases the payment {terms.review_days:g} days after a hand-in (as you set it){held}"
elif terms.review_days:
    review_text = (f"the client has up to {terms.review_days:g} days to review{held} (withdrawable by the day shown, "
                   "at the latest)")
else:
    review_text = f"the platform sets no review window, so payment is assumed on the day of the hand-in{held}"
typical_days = review_history.median_days if review_history is not None and review_days is None else None
history_text = ("" if typical_days is None else f" Your clients there paid a median {typical_days:g} days after a "
                "hand-in: **More options** plans with that instead.")
st.caption(f"{plan_name} on {escape_markdown(terms.label)}. Each milestone is worked on from its start day and handed "
           f"in on its due day; {review_text}.{history_text}")
# Short headers and no start day (the previous milestone's due day; in the CSV): eight columns scrolled sideways
# in a narrow window.
show_table(schedule, "milestone-schedule", key="split_schedule", column_config={
    "seq": st.column_config.NumberColumn("#"),
    "amount": st.column_config.NumberColumn("amount", format="accounting"),
    "fee": st.column_config.NumberColumn("fee", format="accounting"),
    "net": st.column_config.NumberColumn("net", format="accounting", help="What you receive: amount less fee"),
    "start_day": None,
    "due_day": st.column_config.NumberColumn("due day", format="%g"),
    "expected_release_day": st.column_config.NumberColumn("withdrawable", format="day %g",
                                                          help="The day the payment can be withdrawn, at the latest"),
    "prob_paid": st.column_config.NumberColumn("chance paid", format="percent"),
})
fees_warning = splitter.fee_warning(comparison)
if fees_warning:
    st.warning(escape_markdown(sentence(fees_warning)), icon=":material/money_off:")

# --- side by side -----------------------------------------------------------------------------
st.subheader(f"{plan_name.capitalize()} against a single payment")
rows = [
    ("Expected earnings after fees", p.expected_net, s.expected_net),
    ("Most finished work unpaid at any moment (before fees)", p.max_loss, s.max_loss),
    ("Chance of being paid nothing", p.prob_paid_nothing, s.prob_paid_nothing),
    ("Chance of being paid in full", p.prob_paid_in_full, s.prob_paid_in_full),
    ("Expected days until the money can be withdrawn", p.expected_days_to_cash, s.expected_days_to_cash),
    ("Days until the first money can be withdrawn", p.days_to_first_cash, s.days_to_first_cash),
]
# Cards and metrics in rows that wrap, each metric as wide as its figure: in fixed columns a narrow window (800
# pixels with the sidebar open) cut the figures to "2,4…".
sides = st.container(horizontal=True, gap="medium")
for label, outcome, other in ((plan_name.capitalize(), p, s), ("Single payment", s, None)):
    with sides.container(border=True):
        st.markdown(f"**{label}**")
        row = st.container(horizontal=True, gap="medium")
        row.metric("Expected earnings", f"{outcome.expected_net:,.2f}", width="content", help="After platform fees, weighted by the chance "
                 "of each outcome.", delta=None if other is None else f"{outcome.expected_net - other.expected_net:+,.2f}")
        row.metric("Most at stake", f"{outcome.max_loss:,.2f}", width="content", help="The most finished work that could go unpaid if the "
                 "client cancelled at the worst moment (gross).",
                 delta=None if other is None else f"{outcome.max_loss - other.max_loss:+,.2f}", delta_color="inverse")
        row.metric("Paid nothing", f"{outcome.prob_paid_nothing:.1%}", width="content", help="The chance the client cancels before the "
                 + ("first payment (with no escrow, a hand-in is paid only when the client pays it)."
                    if unprotected else "first hand-in."), delta=None if other is None else
                 f"{(outcome.prob_paid_nothing - other.prob_paid_nothing) * 100:+.1f} points", delta_color="inverse")
        row.metric("Withdrawable (average)", days_text(outcome.expected_days_to_cash), width="content",
                 help=(f"The day each payment can be withdrawn ({terms.review_days:g}-day review, "
                       f"then the {terms.hold_days:g}-day hold), averaged over the payments weighted by amount and by "
                       f"the chance each is paid. The first money: after {days_text(outcome.days_to_first_cash)}."),
                 delta_color="inverse",
                 delta=None if other is None or outcome.expected_days_to_cash is None or other.expected_days_to_cash is None
                 else f"{outcome.expected_days_to_cash - other.expected_days_to_cash:+.1f} days")
comparison_table = pd.DataFrame({
    "measure": [label for label, _, _ in rows],
    plan_name: [shown(label, a) for label, a, _ in rows],
    "single payment": [shown(label, b) for label, _, b in rows],
})
st.caption(escape_markdown(sentence("Single payment if cancelled: " + single_risk.if_cancelled_json()["note"])))
with st.expander("The comparison as a table"):
    show_table(comparison_table, "plan-vs-single-payment", key="split_comparison")

# --- if the client cancels ------------------------------------------------------------------
st.subheader("If the client cancels")
secured = splitter.secured_days(plan, terms)  # hand-in under escrow, else the client's payment
# Without escrow the money can still be lost after the last hand-in, until the client pays it.
last_work_day = max(1, math.ceil(float(secured.max())))
last_day = max(2, last_work_day)  # a one-day contract still gets a slider: during day 1, or after it
if st.session_state.get("split_cancel_day", 1) > last_day:  # the contract got shorter: its last day of work
    st.session_state["split_cancel_day"] = last_work_day
# First shown during the work (day 3, or the last day of a shorter contract), where the plans differ.
cancel_day = st.slider("The client cancels during day", 1, last_day, min(first("split_cancel_day"), last_work_day),
                       key="split_cancel_day", bind=URL)
if "split_cancel_day" in st.session_state.get(_LINK_OPENED, {}):
    show_link_ignored({**drawn, "split_cancel_day": cancel_day})
frame = plan.to_frame().assign(secured_day=secured)
kept = float(frame.loc[frame["secured_day"] <= cancel_day - 1, "amount"].sum())
pending_today = frame[(frame["secured_day"] > cancel_day - 1) & (frame["secured_day"] <= cancel_day)]
single_secured = float(splitter.secured_days(comparison.single, terms)[-1])
kept_single = budget if single_secured <= cancel_day - 1 else 0.0
due_that_day = "the milestone" if len(pending_today) == 1 else f"the {len(pending_today):,} milestones"
maybe = ("" if pending_today.empty or n == 1 else
         f", plus {float(pending_today['amount'].sum()):,.2f} if the client had already paid {due_that_day} due to be "
         "paid that day" if unprotected else
         f", plus {float(pending_today['amount'].sum()):,.2f} if you had already handed in {due_that_day} due that day")
unpaid = float(frame.loc[(frame["due_day"] <= cancel_day - 1) & (frame["secured_day"] > cancel_day), "amount"].sum())
if unprotected and unpaid:
    maybe += f" ({unpaid:,.2f} handed in but not yet paid is lost)"
st.markdown(f"With {plan_name} you keep **{kept:,.2f}** of the {budget:,.2f}{maybe}; with a single payment you keep "
            f"**{kept_single:,.2f}**" + ((" — the work was already paid." if unprotected else
                                          " — the work was already delivered.") if kept_single else
                                         f" by the contract (your cancelled single payments still received "
                                         f"{single_risk.cancelled_paid_share:.1%} of the budget on average)."
                                         if single_risk.cancelled_paid_share > 0 else ".")
            + f" Amounts before fees; {escape_markdown(terms.on_cancel)}.")

# --- charts -----------------------------------------------------------------------------------
cash = cash_curve_figure(comparison)
cash.update_xaxes(range=[0, max(float(plan.finish_day), float(p.cash_curve["day"].max()), float(s.cash_curve["day"].max())) * 1.05])
show_chart(cash, "split_cash_curve", height=420)
st.caption("Expected money you can withdraw by each day (solid lines), and the plan's expected finished-but-unpaid "
           "work (dotted): " + ("with milestones that line stays low, because each hand-in turns work into money."
                                if not unprotected else
                                "with no escrow a hand-in is not yet money, so that line falls only when the client "
                                f"pays, {terms.review_days:g} days after each hand-in."))
show_chart(outcome_distribution_figure(comparison), "split_outcomes", height=400)
st.caption("Every way the contract can end and its chance: after 0, 1, 2 … paid milestones, net of fees.")

# --- recommendation --------------------------------------------------------------------------
st.subheader("Recommendation")
with st.container(border=True):
    if recommendation.milestones is None:
        st.warning(escape_markdown(recommendation.reason[:1].upper() + recommendation.reason[1:]) + ".")
    else:
        best = recommendation.milestones
        at_stake = float(recommendation.table.set_index("milestones").at[best, "max_loss"])
        st.markdown(f"**Recommended: {plural(best, 'milestone')}**, the fewest that never leave more than "
                    f"{at_stake:,.2f} of finished work unpaid (your limit: {max_loss_percent} % of {budget:,.2f}).")
        if recommendation.fee_note:
            st.caption(escape_markdown(sentence(recommendation.fee_note)))
        if best != n or mode != COUNT:
            st.button(f"Use {plural(best, 'milestone')}", on_click=use_recommendation, args=(best,),
                      icon=":material/check:", key="split_use_recommendation")
    if recommendation.review_days_per_milestone:
        st.caption(f"Each milestone is one more client review of up to {recommendation.review_days_per_milestone:g} "
                   "days; if you wait for each approval before starting the next, the finish moves out by that much.")
# Two narrow tables rather than one of eleven columns that scrolled sideways in a narrow window; the CSV
# holds every column.
plans = recommendation.table.round({"max_loss_share": 3, "prob_paid_nothing": 3, "expected_days_to_cash": 1})
plan_columns = {
    "milestones": st.column_config.NumberColumn("milestones"),
    "max_loss": st.column_config.NumberColumn("at stake", format="accounting",
                                              help="The most finished work unpaid at any moment"),
    "max_loss_share": st.column_config.NumberColumn("of budget", format="percent"),
    "expected_net": st.column_config.NumberColumn("earnings", format="accounting",
                                                  help="Expected earnings after fees"),
    "prob_paid_nothing": st.column_config.NumberColumn("paid nothing", format="percent"),
    "smallest_amount": st.column_config.NumberColumn("smallest", format="accounting",
                                                     help="The smallest milestone"),
    "fees_if_complete": st.column_config.NumberColumn("all fees", format="accounting",
                                                      help="Fees if every milestone is paid"),
    "expected_days_to_cash": st.column_config.NumberColumn("days to cash", format="%.1f"),
    "finish_day_waiting_for_approval": st.column_config.NumberColumn(
        "finish", format="day %.0f", help="The last hand-in if you wait for each approval before the next"),
}
risk_side = ["milestones", "max_loss", "max_loss_share", "expected_net", "prob_paid_nothing"]
cost_side = ["milestones", "smallest_amount", "fees_if_complete", "expected_days_to_cash",
             "finish_day_waiting_for_approval"]
same_risk = (plan_risk.cancel_prob, plan_risk.hazard_shape) == (single_risk.cancel_prob, single_risk.hazard_shape)
st.caption("Plans with 1 to a few more milestones than recommended, "
           + ("under the same risk" if same_risk else
              "each under the plan's risk but the 1-milestone row, which is the single payment under its own "
              f"({single_risk.cancel_prob:.0%} against {plan_risk.cancel_prob:.0%} before the end)")
           + ": what is at stake and earned, then what each costs in fees and time.")
st.dataframe(plans[risk_side], hide_index=True, key="split_recommendation_risk",
             column_config={c: plan_columns[c] for c in risk_side})
show_table(plans[cost_side], "milestone-plans-compared", key="split_recommendation", download=plans,
           column_config={c: plan_columns[c] for c in cost_side})
st.caption(f"The model: the client cancels at a random moment ({plan_risk.cancel_prob:.0%} chance before the planned "
           f"end for the plan, {single_risk.cancel_prob:.0%} for the single payment, "
           + (f"{plan_risk.hazard_label} over time); " if plan_risk.hazard_label == single_risk.hazard_label else
              f"{plan_risk.hazard_label} over time for the plan and {single_risk.hazard_label} for the single payment); ")
           + ("work handed in before that is paid, work in progress is lost. " if not unprotected else
              f"a milestone is paid only if the client is still there when it pays, {terms.review_days:g} days after "
              "the hand-in (no escrow); until then the handed-in work is lost with it. ")
           + "Every number is exact under these "
           "assumptions — no simulation.")
