"""Overview: what the workspace holds."""

from __future__ import annotations

import streamlit as st

from analysis import store
from dashboard.state import workspace

st.title("Milestone Lens")
st.caption("Do milestones pay off? Your own contract history, compared.")

con = workspace()
if store.is_empty(con):
    st.info("The workspace is empty. Import a contract history with `milestone-lens import`, "
            "or load the sample with `milestone-lens sample`.")
    st.stop()

counts = store.counts(con)
by_structure = con.execute(
    """SELECT structure, count(*) AS contracts,
              count(*) FILTER (WHERE status IN ('cancelled', 'disputed')) AS cancelled,
              count(*) FILTER (WHERE status = 'active') AS active
       FROM contract_view GROUP BY structure ORDER BY structure"""
).df()
cols = st.columns(4)
cols[0].metric("Contracts", f"{counts['contracts']:,}")
cols[1].metric("Milestones and invoices", f"{counts['milestones']:,}")
cols[2].metric("Payments", f"{counts['payments']:,}")
cols[3].metric("Imports", f"{counts['imports']:,}")
st.subheader("Contracts by payment structure")
st.dataframe(by_structure, hide_index=True, key="by_structure")
