"""Milestone splitter: placeholder until the page is built on the analyses."""

from __future__ import annotations

import streamlit as st

from dashboard.sidebar import filter_caption

st.title("Milestone splitter")
filter_caption()
st.info("Coming with the analyses: a what-if plan for your next contract: milestones, expected net, worst-case loss and days to cash.", icon=":material/construction:")
st.page_link("views/overview.py", label="Back to the overview", icon=":material/dashboard:")
