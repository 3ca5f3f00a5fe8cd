"""Plotly figure builders over the analysis DataFrames (no Streamlit here).

Each function takes a frame as ``analysis`` returns it and returns a ``go.Figure``; the
HTML report and the dashboard pages draw the same figures. Text that came from imported
files (client names, categories) is HTML-escaped before it reaches Plotly, which would
otherwise interpret tags such as ``<a href=…>`` in labels.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from analysis.filters import SMALL_SAMPLE_FINISHED
from analysis.wording import plural

STRUCTURE_COLORS = {"milestones": "#1f77b4", "single": "#d62728", "hourly": "#7f7f7f"}
STRUCTURE_LABELS = {"milestones": "Milestones", "single": "Single payment", "hourly": "Hourly"}
#: The template of the standalone HTML report. The builders set none: a template costs ~35 ms a
#: figure to validate, and each place that draws applies its own (the report this one, the app
#: Streamlit's theme, which Streamlit makes Plotly's default).
REPORT_TEMPLATE = "plotly_white"
#: Bars a chart by client or freelancer draws at most (the page's caption says of how many).
TOP_BARS = 15
_LAYOUT = dict(margin=dict(l=60, r=20, t=60, b=50), legend=dict(orientation="h", y=-0.2))


def safe_text(value) -> str:
    """Imported text made inert for Plotly labels."""
    return html.escape(str(value), quote=True)


def _label(structure: str) -> str:
    return STRUCTURE_LABELS.get(structure, safe_text(structure))


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=safe_text(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, xaxis=dict(visible=False), yaxis=dict(visible=False), **_LAYOUT)
    return fig


def cancellation_rates(rates: pd.DataFrame, title: str = "Cancellation rate by payment structure") -> go.Figure:
    """Bars of the rate per structure with 95 % Wilson error bars; small samples hatched and labelled with counts."""
    data = rates[rates["finished"] > 0]
    if data.empty:
        return _empty(title, "No finished contracts yet")
    counts = [f"{c:,} of {n:,}" for c, n in zip(data["cancelled"], data["finished"])]
    fig = go.Figure(go.Bar(
        x=[_label(s) for s in data["structure"]],
        y=data["cancellation_rate"] * 100,
        marker_color=[STRUCTURE_COLORS.get(s, "#999") for s in data["structure"]],
        marker_pattern_shape=["/" if small else "" for small in data["small_sample"]],
        error_y=dict(type="data", symmetric=False,
                     array=(data["ci_high"] - data["cancellation_rate"]) * 100,
                     arrayminus=(data["cancellation_rate"] - data["ci_low"]) * 100),
        customdata=counts,
        hovertemplate="%{x}: %{y:.1f} %<br>%{customdata} finished contracts cancelled<extra></extra>",
    ))
    # The counts under each bar: above it, the error bar's whisker ran through them.
    fig.update_xaxes(tickmode="array", tickvals=[_label(s) for s in data["structure"]],
                     ticktext=[f"{_label(s)}<br>{c} cancelled" for s, c in zip(data["structure"], counts)])
    fig.update_layout(title=title, yaxis_title="cancelled, % of finished", **_LAYOUT)
    return fig


def breakdown_rates(breakdown: pd.DataFrame, dimension: str, title: str | None = None) -> go.Figure:
    """Grouped bars: cancellation rate per structure within each group of one breakdown dimension."""
    data = breakdown[(breakdown["dimension"] == dimension) & (breakdown["finished"] > 0)]
    title = title or f"Cancellation rate by {dimension.replace('_', ' ')}"
    if data.empty:
        return _empty(title, "No finished contracts in any group")
    order = list(dict.fromkeys(data.sort_values(["group_order", "group"])["group"]))
    fig = go.Figure()
    # Milestones, single payment, hourly in every breakdown (the data's order put hourly first in some).
    structures = [s for s in STRUCTURE_LABELS if s in set(data["structure"])]
    structures += sorted(set(data["structure"]) - set(structures))
    for structure in structures:
        part = data[data["structure"] == structure].set_index("group")
        part = part.reindex([g for g in order if g in set(part.index)])
        fig.add_trace(go.Bar(
            name=_label(structure), x=[safe_text(g) for g in part.index], y=part["cancellation_rate"] * 100,
            marker_color=STRUCTURE_COLORS.get(structure), legendgroup=structure, offsetgroup=structure,
            showlegend=False,
            marker_pattern_shape=["/" if s else "" for s in part["small_sample"]],
            error_y=dict(type="data", symmetric=False, array=(part["ci_high"] - part["cancellation_rate"]) * 100,
                         arrayminus=(part["cancellation_rate"] - part["ci_low"]) * 100),
            customdata=list(zip(part["cancelled"], part["finished"])),
            hovertemplate="%{x}: %{y:.1f} %<br>%{customdata[0]} of %{customdata[1]} cancelled<extra>" + _label(structure) + "</extra>",
        ))
        # The legend's own entry, solid: a trace's swatch takes its first bar's hatching, which said
        # "too few" of a whole structure whose first group was small.
        fig.add_trace(go.Bar(name=_label(structure), x=[None], y=[None], marker_color=STRUCTURE_COLORS.get(structure),
                             legendgroup=structure, offsetgroup=structure, hoverinfo="skip"))
    if data["small_sample"].any():
        fig.add_trace(go.Bar(name=f"hatched: under {SMALL_SAMPLE_FINISHED} finished", x=[None], y=[None],
                             marker_color="rgba(0,0,0,0)", marker_line_color="#888", marker_line_width=1,
                             marker_pattern_shape="/", marker_pattern_fgcolor="#888", offsetgroup=structures[0],
                             hoverinfo="skip"))
    fig.update_layout(title=title, barmode="group", yaxis_title="cancelled, % of finished",
                      xaxis=dict(categoryorder="array", categoryarray=[safe_text(g) for g in order]), **_LAYOUT)
    return fig


def not_cancelled_curves(incidence: pd.DataFrame, scale: str = "days", title: str | None = None) -> go.Figure:
    """Share of contracts not cancelled by each time (1 − cumulative incidence of cancellation) per
    structure, with pointwise 95 % bands. Completion is a competing outcome, not censoring, so the
    curve does not overstate cancellations the way a Kaplan–Meier "survival" would."""
    title = title or ("Share not cancelled, by days since start" if scale == "days"
                      else "Share not cancelled, by share of the planned duration elapsed")
    if incidence.empty:
        return _empty(title, "No contracts with a known time to cancellation")
    fig = go.Figure()
    for structure, part in incidence.groupby("structure", sort=False):
        part = part.sort_values("time")
        t = [0.0] + part["time"].tolist()
        s = [1.0] + (1 - part["cancelled"]).tolist()
        lo = [1.0] + (1 - part["cancelled_high"]).tolist()
        hi = [1.0] + (1 - part["cancelled_low"]).tolist()
        color = STRUCTURE_COLORS.get(structure, "#999")
        fig.add_trace(go.Scatter(x=t + t[::-1], y=hi + lo[::-1], fill="toself", line=dict(width=0, shape="hv"),
                                 fillcolor=color, opacity=0.15, hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=t, y=s, name=_label(structure), mode="lines", line=dict(color=color, shape="hv")))
    fig.update_layout(title=title, xaxis_title="days since start" if scale == "days" else "share of planned duration",
                      yaxis=dict(title="not cancelled", range=[0, 1.02], tickformat=".0%"), **_LAYOUT)
    return fig


def cumulative_incidence(incidence: pd.DataFrame, title: str = "Cumulative incidence: cancelled vs completed") -> go.Figure:
    """Solid lines: share cancelled by day t; dotted: share completed (competing outcomes)."""
    if incidence.empty:
        return _empty(title, "No finished contracts yet")
    fig = go.Figure()
    for structure, part in incidence.groupby("structure", sort=False):
        color = STRUCTURE_COLORS.get(structure, "#999")
        fig.add_trace(go.Scatter(x=part["time"], y=part["cancelled"], name=f"{_label(structure)} — cancelled",
                                 line=dict(color=color, shape="hv")))
        fig.add_trace(go.Scatter(x=part["time"], y=part["completed"], name=f"{_label(structure)} — completed",
                                 line=dict(color=color, shape="hv", dash="dot")))
    fig.update_layout(title=title, xaxis_title="days since start", yaxis=dict(title="share of contracts", tickformat=".0%"),
                      **_LAYOUT)
    return fig


def cash_curve(curve: pd.DataFrame, title: str = "Cash curve: share of the agreed value received") -> go.Figure:
    """Share of contract value received against share of the planned duration elapsed."""
    if curve.empty:
        return _empty(title, "No finished fixed-price contracts with a budget and planned duration")
    fig = go.Figure()
    for structure, part in curve.groupby("structure", sort=False):
        fig.add_trace(go.Scatter(x=part["fraction_elapsed"], y=part["share_received"], name=_label(structure),
                                 mode="lines+markers", line=dict(color=STRUCTURE_COLORS.get(structure))))
    fig.add_vline(x=1.0, line_dash="dot", line_color="#888")
    fig.update_layout(title=title, xaxis=dict(title="share of planned duration elapsed", tickformat=".0%"),
                      yaxis=dict(title="share of agreed value received", tickformat=".0%"), **_LAYOUT)
    return fig


def timing_medians(summary: pd.DataFrame, measures: dict[str, str] | None = None,
                   title: str = "Payment timing (median days, bars from 25th to 75th percentile)") -> go.Figure:
    """Median days per measure and structure with interquartile whiskers."""
    from analysis.timing import MEASURES

    measures = measures or MEASURES
    data = summary[(summary["n"] > 0) & summary["measure"].isin(measures)]
    if data.empty:
        return _empty(title, "No payments with dates yet")
    fig = go.Figure()
    for structure, part in data.groupby("structure", sort=False):
        part = part.set_index("measure").reindex([m for m in measures if m in set(part["measure"])])
        fig.add_trace(go.Bar(
            name=_label(structure), y=[measures[m] for m in part.index], x=part["median"], orientation="h",
            marker_color=STRUCTURE_COLORS.get(structure),
            error_x=dict(type="data", symmetric=False, array=part["p75"] - part["median"], arrayminus=part["median"] - part["p25"]),
            customdata=part["n"], hovertemplate="%{y}: median %{x} days (n = %{customdata})<extra></extra>",
        ))
    fig.update_layout(title=title, barmode="group", xaxis_title="days", **_LAYOUT)
    return fig


def earnings_by_month(months: pd.DataFrame, currency: str, title: str | None = None) -> go.Figure:
    """Stacked bars of net earnings and platform fees per month (one currency)."""
    title = title or f"Earnings by month ({safe_text(currency)})"
    data = months[(months["currency"] == currency) & (months["month"] != "undated")]
    if data.empty:
        return _empty(title, "No dated payments")
    fig = go.Figure([
        go.Bar(name="net", x=data["month"], y=data["net"], marker_color="#2ca02c"),
        go.Bar(name="fees", x=data["month"], y=data["fees"], marker_color="#ff7f0e"),
    ])
    fig.update_layout(title=title, barmode="stack", yaxis_title=safe_text(currency), **_LAYOUT)
    # Months, not instants: one month alone would otherwise be labelled "00:00:00 / Sep 1, 2022".
    fig.update_xaxes(tickformat="%b %Y", dtick="M1" if data["month"].nunique() <= 12 else None)
    return fig


def ageing(buckets: pd.DataFrame, currency: str, title: str | None = None) -> go.Figure:
    """Submitted-but-unpaid amounts by age bucket (one currency)."""
    title = title or f"Submitted, not yet paid ({safe_text(currency)})"
    data = buckets[buckets["currency"] == currency].sort_values("bucket_order")
    if data.empty or data["items"].sum() == 0:
        return _empty(title, "Nothing is waiting for payment")
    fig = go.Figure(go.Bar(x=data["bucket"], y=data["amount"], text=[plural(int(n), "item") for n in data["items"]],
                           textposition="outside", marker_color="#9467bd"))
    fig.update_layout(title=title, yaxis_title=safe_text(currency), **_LAYOUT)
    return fig


def exposure_by(exposure: pd.DataFrame, key: str, currency: str, top: int = TOP_BARS, title: str | None = None) -> go.Figure:
    """Remaining value of active contracts per client or freelancer: funded vs unfunded, with expected loss;
    the ``top`` by expected loss, then by what is still to be paid, in the order the page's table lists them
    (``exposure.RISK_ORDER``: an unknown expected loss ranks as 0)."""
    title = title or f"Active contracts by {key}: what is still unpaid ({safe_text(currency)})"
    data = exposure[(exposure["currency"] == currency) & (exposure["remaining"] > 0)]
    if data.empty:
        return _empty(title, "No active fixed-price contracts with a remaining value")
    data = (data.assign(_rank=data["expected_loss"].fillna(0))
            .sort_values(["_rank", "remaining", key], ascending=[False, False, True], na_position="last").head(top))
    names = [safe_text(v) for v in data[key]]
    fig = go.Figure([
        go.Bar(name="funded (escrow)", y=names, x=data["funded"], orientation="h", marker_color="#2ca02c"),
        go.Bar(name="unfunded", y=names, x=data["unfunded"], orientation="h", marker_color="#d62728"),
        go.Scatter(name="expected loss", y=names, x=data["expected_loss"], mode="markers",
                   marker=dict(symbol="diamond", size=10, color="#000")),
    ])
    fig.update_layout(title=title, barmode="stack", xaxis_title=safe_text(currency),
                      yaxis=dict(autorange="reversed"), **_LAYOUT)
    return fig


def earnings_by(totals: pd.DataFrame, key: str, currency: str, top: int = TOP_BARS, title: str | None = None) -> go.Figure:
    """Net earnings and platform fees per client or freelancer (the ``top`` by gross), one currency."""
    title = title or f"Earnings by {key} ({safe_text(currency)})"
    data = totals[totals["currency"] == currency].sort_values("gross", ascending=False).head(top)
    if data.empty:
        return _empty(title, "No payments")
    names = [safe_text(v) for v in data[key]]
    fig = go.Figure([
        go.Bar(name="net", y=names, x=data["net"], orientation="h", marker_color="#2ca02c",
               hovertemplate="%{y}: net %{x:,.2f}<extra></extra>"),
        go.Bar(name="fees", y=names, x=data["fees"], orientation="h", marker_color="#ff7f0e",
               hovertemplate="%{y}: fees %{x:,.2f}<extra></extra>"),
    ])
    fig.update_layout(title=title, barmode="stack", xaxis_title=safe_text(currency), yaxis=dict(autorange="reversed"),
                      **_LAYOUT)
    return fig


def realised_share(realised: pd.DataFrame, currency: str,
                   title: str = "Share of the agreed price actually paid, by how contracts ended") -> go.Figure:
    """Grouped bars: paid ÷ agreed per contract status and structure (fixed price, one currency)."""
    data = realised[(realised["currency"] == currency) & (realised["agreed"] > 0)]
    if data.empty:
        return _empty(title, "No fixed-price contracts with a known budget")
    statuses = [s for s in ("completed", "cancelled", "disputed", "active", "unknown") if s in set(data["status"])]
    fig = go.Figure()
    for structure, part in data.groupby("structure", sort=False):
        part = part.set_index("status").reindex([s for s in statuses if s in set(part["status"])])
        fig.add_trace(go.Bar(
            name=_label(structure), x=list(part.index), y=part["realised_share"], marker_color=STRUCTURE_COLORS.get(structure),
            customdata=list(zip(part["paid"], part["agreed"], part["contracts"])),
            hovertemplate=("%{x}: %{y:.0%} paid<br>%{customdata[0]:,.2f} of %{customdata[1]:,.2f} "
                           "(%{customdata[2]} contracts)<extra>" + _label(structure) + "</extra>"),
        ))
    fig.update_layout(title=title, barmode="group", yaxis=dict(title="paid ÷ agreed", tickformat=".0%"),
                      xaxis=dict(categoryorder="array", categoryarray=statuses), **_LAYOUT)
    return fig


def lag_distribution(dist: pd.DataFrame, measure_label: str, title: str | None = None) -> go.Figure:
    """Share of intervals per day bin and structure (``analysis.timing.distribution``), as bars
    on a day axis; the last, open-ended bin is named in the axis title."""
    title = title or f"{safe_text(measure_label)}: how the days spread"
    if dist.empty:
        return _empty(title, "Nothing measured yet")
    open_from = dist.loc[dist["open_ended"], "days"]
    fig = go.Figure()
    order = {s: i for i, s in enumerate(STRUCTURE_COLORS)}
    for structure, part in sorted(dist.groupby("structure"), key=lambda item: order.get(item[0], len(order))):
        fig.add_trace(go.Bar(
            name=_label(structure), x=part["days"], y=part["share"], marker_color=STRUCTURE_COLORS.get(structure),
            customdata=part["n"], hovertemplate="%{x} days: %{y:.1%} (%{customdata})<extra>" + _label(structure) + "</extra>",
        ))
    axis = "days" + (f" (the last bar: {int(open_from.min())} or more)" if len(open_from) else "")
    fig.update_layout(title=title, barmode="group", bargap=0.15, yaxis=dict(title="share", tickformat=".0%"),
                      xaxis=dict(title=axis, rangemode="tozero"), **_LAYOUT)
    if dist["days"].max() < 10:  # whole days: a bar or two alone had ticks at -0.4 … 0.4
        fig.update_xaxes(dtick=1, range=[-0.5, max(int(dist["days"].max()), 4) + 0.5])
    return fig
