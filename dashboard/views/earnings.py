"""Earnings: placeholder until the page is built on the analyses."""

from __future__ import annotations

import streamlit as st

from dashboard.sidebar import filter_caption

st.title("Earnings")
filter_caption()
st.info("Coming with the analyses: gross, fees and net over time, by client and freelancer, realised against agreed value and losses on cancellation.", icon=":material/construction:")
st.page_link("views/overview.py", label="Back to the overview", icon=":material/dashboard:")
