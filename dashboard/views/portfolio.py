"""Portfolio risk: placeholder until the page is built on the analyses."""

from __future__ import annotations

import streamlit as st

from dashboard.sidebar import filter_caption

st.title("Portfolio risk")
filter_caption()
st.info("Coming with the analyses: exposure of active contracts, funded against unfunded value, expected loss and concentration.", icon=":material/construction:")
st.page_link("views/overview.py", label="Back to the overview", icon=":material/dashboard:")
