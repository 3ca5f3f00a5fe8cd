"""Entry point of the Streamlit app: the page navigation and the sidebar filters every page shares.

``PAGES`` lists every page once; pages link to each other through ``page_link`` so a link
carries the current filters along.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import inputs, sidebar

# Not "pages/": Streamlit treats a pages/ folder next to the main script as a v1 multipage app
# (AppTest then runs the page files without this script on reruns).
PAGES_DIR = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="Milestone Lens", page_icon=":material/splitscreen:", layout="wide")

# The default page is served at the root URL; its own url_path only has to be unique.
OVERVIEW = st.Page(str(PAGES_DIR / "overview.py"), title="Overview", icon=":material/dashboard:", url_path="home",
                   default=True)


PAGES = {
    "Analyses": [
        OVERVIEW,
        st.Page(str(PAGES_DIR / "cancellation.py"), title="Cancellation risk", icon=":material/cancel:", url_path="cancellation"),
        st.Page(str(PAGES_DIR / "timing.py"), title="Payment timing", icon=":material/schedule:", url_path="timing"),
        st.Page(str(PAGES_DIR / "earnings.py"), title="Earnings", icon=":material/payments:", url_path="earnings"),
        st.Page(str(PAGES_DIR / "portfolio.py"), title="Portfolio risk", icon=":material/account_balance:", url_path="portfolio"),
    ],
    "Plan": [
        st.Page(str(PAGES_DIR / "splitter.py"), title="Milestone splitter", icon=":material/call_split:", url_path="splitter"),
    ],
    "Workspace": [
        st.Page(str(PAGES_DIR / "data.py"), title="Data", icon=":material/database:", url_path="data"),
        # ``/overview`` (typed, or shared like ``/cancellation``) shows the Overview with the link's
        # filters instead of Streamlit's "Page not found" (the default page lives at the root).
        st.Page(str(PAGES_DIR / "overview.py"), title="Overview", url_path="overview", visibility="hidden"),
    ],
}

navigation = st.navigation(PAGES)
sidebar.render_filters()
inputs.keep_across_pages()
navigation.run()
