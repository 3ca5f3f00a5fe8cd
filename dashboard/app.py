"""Entry point of the Streamlit app: the page navigation."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="Milestone Lens", page_icon=":material/splitscreen:", layout="wide")

navigation = st.navigation([
    st.Page(str(PAGES / "overview.py"), title="Overview", icon=":material/dashboard:", default=True),
])
navigation.run()
