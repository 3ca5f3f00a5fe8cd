"""Payment timing: placeholder until the page is built on the analyses."""

from __future__ import annotations

import streamlit as st

from dashboard.sidebar import filter_caption

st.title("Payment timing")
filter_caption()
st.info("Coming with the analyses: time to first payment, submission-to-payment lags, cash curves and ageing of unpaid work.", icon=":material/construction:")
st.page_link("views/overview.py", label="Back to the overview", icon=":material/dashboard:")
