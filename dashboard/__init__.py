"""The Streamlit dashboard: pages wire inputs to ``analysis`` and to Plotly chart builders."""
