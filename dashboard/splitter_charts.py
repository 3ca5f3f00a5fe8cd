"""Plotly figures for the what-if splitter: plain functions of an ``analysis.splitter.Comparison``.

No Streamlit here, so a page, an HTML export or a test can build the same figures.
"""

from __future__ import annotations

import plotly.graph_objects as go

from analysis.splitter import Comparison
from analysis.wording import plural

PLAN_COLOR = "#2563eb"
SINGLE_COLOR = "#9ca3af"


def _labels(c: Comparison) -> tuple[str, str]:
    return plural(len(c.plan.milestones), "milestone"), "single payment"


def outcome_distribution_figure(c: Comparison) -> go.Figure:
    """Probability of each possible net outcome (after fees), plan and single payment side by side."""
    plan_label, single_label = _labels(c)
    fig = go.Figure()
    for label, outcome, color in ((plan_label, c.plan_outcome, PLAN_COLOR), (single_label, c.single_outcome, SINGLE_COLOR)):
        d = outcome.distribution
        fig.add_trace(go.Bar(
            x=d["net"].round(2).tolist(), y=d["probability"].tolist(), name=label, marker_color=color,
            customdata=[("cancelled, part of the budget paid" if part else f"{k} paid")
                        for k, part in zip(d["paid_milestones"], d["part_paid"])],
            hovertemplate="net %{x:,.2f}<br>probability %{y:.1%}<br>%{customdata}<extra>" + label + "</extra>",
        ))
    fig.update_layout(
        title={"text": "What you could end up with"}, barmode="group", bargap=0.25,
        xaxis={"title": {"text": "net earnings (after fees)"}, "rangemode": "tozero", "separatethousands": True},
        yaxis={"title": {"text": "probability"}, "tickformat": ".0%", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def cash_curve_figure(c: Comparison) -> go.Figure:
    """Expected withdrawable net cash by day (steps at each release), plan against single payment,
    with the plan's expected finished-but-unpaid work as a dotted line."""
    plan_label, single_label = _labels(c)
    last = max(c.plan_outcome.cash_curve["day"].max(), c.single_outcome.cash_curve["day"].max())
    end = float(last + max(1.0, 0.1 * last))  # run on past the last release so its step shows
    fig = go.Figure()
    for label, outcome, color, width in ((plan_label, c.plan_outcome, PLAN_COLOR, 2),
                                         (single_label, c.single_outcome, SINGLE_COLOR, 3)):
        curve = outcome.cash_curve
        days = curve["day"].tolist() + [end]
        cash = curve["expected_cash"].tolist() + [float(curve["expected_cash"].iloc[-1])]
        fig.add_trace(go.Scatter(
            x=days, y=cash, name=f"{label}: expected cash", mode="lines",
            line={"shape": "hv", "color": color, "width": width},
            hovertemplate="day %{x:.1f}<br>expected withdrawable %{y:,.2f}<extra>" + label + "</extra>",
        ))
    exposure = c.plan_outcome.exposure_curve
    fig.add_trace(go.Scatter(
        x=exposure["day"].tolist(), y=exposure["expected_exposure"].tolist(), name=f"{plan_label}: expected work at stake",
        mode="lines", line={"dash": "dot", "color": PLAN_COLOR},
        hovertemplate="day %{x:.1f}<br>expected unpaid work %{y:,.2f}<extra></extra>",
    ))
    fig.update_layout(
        title={"text": "Expected cash you can withdraw, by day"},
        xaxis={"title": {"text": "days from the start"}, "rangemode": "tozero"},
        yaxis={"title": {"text": "amount"}, "rangemode": "tozero", "separatethousands": True},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
