"""The analysis tables every import keeps in the workspace, so reports and pages start from them.

What the analyses share and the filters cannot change — the enriched contracts, the keyed
milestones and payments (``filters.prepared``), and the per-contract figures of
``filters.derived_table`` (payment sums, what was paid toward the budget, first-payment and
gap intervals, client history, the active contracts' open value and risk) — is computed
once, in the transaction that changed the data, into the ``ml_analysis`` schema. Nothing in
it is user data: it is remade from the main tables on every change, and a workspace without
it (written by an older version) is analysed exactly as before, by temporary tables.
"""

from __future__ import annotations

import duckdb

from analysis import earnings, exposure, filters, timing


def _derived_tables() -> None:
    """Ask for every derived table a full report uses with its default settings (inside ``prepared``)."""
    earnings.contract_payments_table()
    earnings.paid_toward_budget_table()
    timing.contract_days_table()
    filters.client_history_table()
    exposure.active_table(filters.SMALL_SAMPLE_FINISHED)


def rebuild(con: duckdb.DuckDBPyConnection) -> bool:
    """Remake the kept tables from the workspace's current data (in the writer's transaction).

    False when they could not be kept (two contracts' keys hash alike); analyses then prepare
    their own per run, as a workspace without them does.
    """
    return filters.store_analysis_tables(con, _derived_tables)
