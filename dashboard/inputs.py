"""Page inputs that outlive a change of page.

Streamlit forgets the value of a widget that a run does not draw, so leaving the splitter for
another page and coming back reset every input. The entrypoint re-saves these keys on every run
before the page runs (Streamlit's "interrupt the widget clean-up"), so they keep their values
for the whole session. Only inputs whose widgets take no default of their own are listed: their
first value comes from ``setdefault`` on their page.
"""

from __future__ import annotations

import streamlit as st

from analysis import splitter

#: The splitter's inputs and their first values: SPEC.md's worked example, 150 over 5 days in 5 milestones.
SPLITTER_DEFAULTS = {
    "split_platform": splitter.DEFAULT_PLATFORM, "split_budget": 150.0, "split_days": 5.0,
    "split_mode": "count", "split_milestones": 5, "split_shape": "equal", "split_amounts": "30, 30, 30, 30, 30",
    "split_cancel_percent": round(splitter.DEFAULT_CANCEL_PROB * 100), "split_hazard": "constant",
    "split_max_loss_percent": round(splitter.DEFAULT_MAX_LOSS_SHARE * 100), "split_wait_days": 0.0,
    "split_billed_before": 0.0, "split_cancel_day": 3,
}
#: Kept across pages: the splitter's inputs, and where its risk comes from (set on the page).
KEPT_ACROSS_PAGES = (*SPLITTER_DEFAULTS, "split_risk_mode")


def keep_across_pages() -> None:
    """Re-save the kept inputs so the end of this run does not delete them (call before the page runs)."""
    for key in KEPT_ACROSS_PAGES:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
