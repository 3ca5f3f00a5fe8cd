"""Milestone Lens analysis package: workspace store, importers, analyses and the splitter.

Pure Python over DuckDB and pandas; never imports Streamlit.
"""

__version__ = "0.1.0"
