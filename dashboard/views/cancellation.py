"""Cancellation risk: placeholder until the page is built on the analyses."""

from __future__ import annotations

import streamlit as st

from dashboard.sidebar import filter_caption

st.title("Cancellation risk")
filter_caption()
st.info("Coming with the analyses: rates with intervals, breakdowns by budget, duration, client history, category, platform and year, time-to-cancellation curves and the adjusted comparison.", icon=":material/construction:")
st.page_link("views/overview.py", label="Back to the overview", icon=":material/dashboard:")
