"""The sidebar filters (SPEC.md), the same on every page and kept in the URL.

Each filter widget is bound to a query parameter named like the ``report`` flag it mirrors
(``?from=2025-01-01&client=Acme&client=Beta&currency=USD``), so a copied link reproduces the
view and the filters survive page switches. The choices are the workspace's own distinct
values. Pages read the filters of the current run with ``current_filters()``.

Widget keys equal the query parameter names (``FILTER_KEYS``): pages must not reuse them.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from analysis import workspace_admin
from analysis.filters import Filters
from dashboard import state
from dashboard.tables import escape_markdown

#: URL parameter (and widget key) -> (Filters field, label).
TEXT_FILTERS = {
    "client": "Client",
    "freelancer": "Freelancer",
    "category": "Category",
    "platform": "Platform",
    "currency": "Currency",
}
FILTER_KEYS = ("from", "to", *TEXT_FILTERS)
_FILTERS_IN_EFFECT = "_filters_in_effect"
#: What the link a session opened with asked for and the filters could not take, and the filters then.
_LINK_IGNORED = "_link_ignored"
#: What this run's link asked for and the filters could not take, for the page to say too.
_LINK_IGNORED_NOW = "_link_ignored_now"
#: Parts of a link a page could not take, grouped by why: ``[(why, ["key 'value'", ...]), ...]``.
Ignored = list[tuple[str, list[str]]]
#: The sidebar's start dates when they run backwards (and are ignored), for the pages to say so too.
_DATES_REVERSED = "_dates_reversed"
# The calendar's range: wide enough for any history, so a shared link's dates are never dropped.
_EARLIEST = dt.date(1990, 1, 1)
_LATEST = dt.date(2100, 12, 31)


def _clear_filters() -> None:
    st.session_state["from"] = None
    st.session_state["to"] = None
    for key in TEXT_FILTERS:
        st.session_state[key] = []


def _match_case_of_choices(choices) -> None:
    """Link values that differ from a choice only in case (``eur``, ``Upwork``) are read as that
    choice; anything else is left for the notice of what the link asked for in vain."""
    rewritten = False
    for key in ("currency", "platform"):
        asked = st.query_params.get_all(key)
        known = {value.casefold(): value for value in getattr(choices, key)}
        fixed = [value if value in known.values() else known.get(value.casefold(), value) for value in asked]
        if fixed != asked:
            st.query_params[key] = fixed
            rewritten = True
    if rewritten:  # the widgets read the link when they are made: run again on the link as it should be
        st.rerun()


def render_filters() -> Filters:
    """Draw the filters in the sidebar and return the ``Filters`` they describe.

    Contradictory dates (from after to) are reported and ignored rather than raising.
    """
    choices = state.query(workspace_admin.filter_choices)
    if _LINK_IGNORED not in st.session_state:  # a typed link may say ?currency=eur, as `report --currency eur` may
        _match_case_of_choices(choices)
    # The link a session opened with, read before the widgets drop what they cannot take.
    opened_with = None if _LINK_IGNORED in st.session_state else {key: st.query_params.get_all(key) for key in FILTER_KEYS}
    with st.sidebar:
        st.subheader("Filters")
        date_from = st.date_input(
            "Started on or after", value=None, min_value=_EARLIEST, max_value=_LATEST, key="from",
            bind="query-params", format="YYYY-MM-DD",
            help="Contract start date. Empty: no lower bound."
            + (f" Your contracts start from {choices.first_start}." if choices.first_start else ""),
        )
        date_to = st.date_input(
            "Started on or before", value=None, min_value=_EARLIEST, max_value=_LATEST, key="to",
            bind="query-params", format="YYYY-MM-DD",
            help="Contract start date. Empty: no upper bound."
            + (f" Your latest contract started {choices.last_start}." if choices.last_start else ""),
        )
        selected: dict[str, list[str]] = {}
        for key, label in TEXT_FILTERS.items():
            selected[key] = st.multiselect(
                label, options=list(getattr(choices, key)), key=key, bind="query-params", placeholder="All",
            )
        if opened_with is not None:
            ignored = ignored_parts(opened_with, {"from": date_from, "to": date_to}, selected)
            st.session_state[_LINK_IGNORED] = (ignored, (date_from, date_to, selected))
        ignored, as_opened = st.session_state[_LINK_IGNORED]
        ignored = ignored if as_opened == (date_from, date_to, selected) else []  # until the user changes a filter
        st.session_state[_LINK_IGNORED_NOW] = ignored
        link_ignored_warning(ignored, "the filters cannot show")
        st.session_state[_DATES_REVERSED] = None
        if date_from and date_to and date_from > date_to:
            st.error(f"The start-date range is reversed ({date_from} after {date_to}); dates are ignored.")
            st.session_state[_DATES_REVERSED] = (date_from, date_to)
            date_from = date_to = None
        filters = Filters(date_from=date_from, date_to=date_to,
                          **{key: tuple(values) for key, values in selected.items()})
        if not filters.is_empty():
            st.button("Clear filters", on_click=_clear_filters, icon=":material/filter_alt_off:", key="clear_filters")
        if state.is_private():
            st.caption(":material/lock: **Private workspace.** Only this browser tab sees what you import here; "
                       "it is deleted when you close the tab or reload the page.")
    st.session_state[_FILTERS_IN_EFFECT] = filters
    return filters


def _link_date(value: str) -> dt.date | None:
    """A link's date as the sidebar's date inputs read it (Streamlit takes ``2026-11-25`` or ``2026/11/25``)."""
    for fmt in ("%Y-%m-%d", "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def ignored_parts(opened: dict[str, list[str]], dates: dict[str, dt.date | None],
                  selected: dict[str, list[str]]) -> Ignored:
    """What the filters did not take of the link they were opened with, grouped by why: a start date that
    does not read as one is not "not in this workspace", and a currency the workspace lacks is not "not a date"."""
    groups: dict[str, list[str]] = {}
    for key, values in opened.items():
        for value in values:
            if key in dates:
                day = _link_date(value)
                if day is not None and day == dates[key]:
                    continue
                why = ("not a date: use YYYY-MM-DD" if day is None
                       else f"outside {_EARLIEST} to {_LATEST}" if not _EARLIEST <= day <= _LATEST
                       else "one date per bound: the first is used")
            elif value in selected.get(key, []):
                continue
            else:
                why = "not in this workspace"
            groups.setdefault(why, []).append(f"{key} '{value}'")
    return list(groups.items())


def ignored_text(ignored: Ignored) -> str:
    """``client 'A', currency 'XYZ' (not in this workspace); from 'x' (not a date: ...)``, the link's values escaped
    for ``st.markdown``."""
    return "; ".join(f"{escape_markdown(', '.join(parts))} ({why})" for why, parts in ignored if parts)


def link_ignored_warning(ignored: Ignored, cannot: str) -> None:
    """Say which of a link's ``key 'value'`` parts were dropped, and why (Streamlit drops them without a word)."""
    if any(parts for _, parts in ignored):
        st.warning(f"This link asks for what {cannot}, so it is ignored: {ignored_text(ignored)}.",
                   icon=":material/link_off:")


def current_filters() -> Filters:
    """The filters of this run (no filters before the sidebar has been drawn)."""
    filters = st.session_state.get(_FILTERS_IN_EFFECT)
    return filters if isinstance(filters, Filters) else Filters()


def filter_caption(filters: Filters | None = None) -> None:
    """One line under a page title saying which contracts the page shows."""
    filters = filters or current_filters()
    if filters.is_empty():
        st.caption("All contracts in the workspace. Narrow them down with the filters in the sidebar.")
    else:
        st.caption(f"Showing {escape_markdown(filters.describe())}.")
    reversed_dates = st.session_state.get(_DATES_REVERSED)
    if reversed_dates:  # the sidebar says it too, but a phone shows the sidebar closed
        st.caption(f":material/event_busy: Not applied: the start dates run backwards ({reversed_dates[0]} after "
                   f"{reversed_dates[1]}), so these figures cover every start date. Swap them in the sidebar.")
    ignored = st.session_state.get(_LINK_IGNORED_NOW) or []
    if ignored:  # the sidebar says it too; here, where a reader of the figures looks
        st.caption(f":material/link_off: Not applied, so these figures are not narrowed by it: {ignored_text(ignored)}.")
