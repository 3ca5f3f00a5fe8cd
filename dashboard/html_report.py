"""The report as one self-contained HTML file: tables and Plotly charts, plotly.js inlined.

It opens offline (no external script, style or font), so a user can email it. Every piece
of imported text (client names, categories, currencies, notes) is HTML-escaped here, and
chart labels are escaped by ``dashboard.charts``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from analysis import earnings, exposure, timing
from analysis.cancellation import BREAKDOWN_DIMENSIONS, BREAKDOWN_LABELS, p_number, p_text
from analysis.filters import SMALL_SAMPLE_FINISHED
from analysis.report import (
    CurrencySection, Report, format_count, format_date, format_days, format_money, format_pct, rate_text, unpaid_text,
)
from analysis.timing import MEASURES
from analysis.wording import plural, sentence
from dashboard import charts

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#222}
h1{margin-bottom:0}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:40px}
.meta{color:#666}.note{background:#fff8e1;border-left:4px solid #f0b400;padding:8px 12px;margin:6px 0}
table{border-collapse:collapse;margin:12px 0;font-size:14px}th,td{border-bottom:1px solid #e5e5e5;padding:4px 10px}
th{background:#f6f6f6;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.verdict{font-size:16px;margin:10px 0}.small{color:#a15c00}.chart{margin:10px 0}
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


Column = tuple[str, str, Callable[[object], str] | None]  # (column, heading, formatter; None = text)


def table(df: pd.DataFrame | None, columns: Sequence[Column], empty: str = "Nothing to show.") -> str:
    """An HTML table of ``df``'s ``columns``; every cell escaped, numbers right-aligned."""
    if df is None or df.empty:
        return f"<p>{esc(empty)}</p>"
    head = "".join(f"<th>{esc(h)}</th>" for _, h, _ in columns)
    body = []
    for row in df.to_dict(orient="records"):
        cells = []
        for col, _, fmt in columns:
            value = row.get(col)
            if fmt is None:
                cells.append(f"<td>{esc('—' if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else value)}</td>")
            else:
                try:
                    shown = fmt(value)
                except (TypeError, ValueError):
                    shown = "—"
                cells.append(f'<td class="n">{esc(shown)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure(fig: go.Figure) -> str:
    """A chart as a div and an inline script (plotly.js itself is included once, in the head)."""
    fig.update_layout(template=charts.REPORT_TEMPLATE)
    return '<div class="chart">' + fig.to_html(full_html=False, include_plotlyjs=False,
                                               config={"displaylogo": False, "responsive": True}) + "</div>"


def cut_note(shown: int, total: int, noun: str, order: str, after: str = "") -> list[str]:
    """``The 15 with the largest gross of 1,234 clients.`` when a table or chart shows only part of a list."""
    if total <= shown:
        return []
    return [f'<p class="meta">{esc(f"The {shown:,} {order} of {plural(total, noun)}{after}.")}</p>']


def _rates_table(section: CurrencySection) -> str:
    bs = section.by_structure()
    bs = bs.assign(rate_text=[rate_text(r.cancelled, r.finished, r.cancellation_rate, r.ci_low, r.ci_high, r.small_sample)
                              for r in bs.itertuples()])
    return table(bs, [
        ("structure", "structure", None), ("contracts", "contracts", format_count), ("finished", "finished", format_count),
        ("cancelled", "cancelled (incl. disputed)", format_count), ("disputed", "disputed", format_count),
        ("active", "active", format_count), ("status_unknown", "status unknown", format_count),
        ("rate_text", "cancellation rate (95 % CI)", str),
    ])


def _cancellation(section: CurrencySection) -> list[str]:
    out = ["<h2>Cancellation risk</h2>",
           f"<p>Cancelled or disputed, as a share of finished contracts (completed, cancelled or disputed), with 95 % "
           f"Wilson intervals. Groups with fewer than {SMALL_SAMPLE_FINISHED} finished contracts show counts, not rates.</p>",
           _rates_table(section), f'<p class="verdict">{esc(section.comparison.message[0].upper() + section.comparison.message[1:])}.</p>']
    cmp = section.comparison
    if cmp.rate_difference is not None and not cmp.small_sample:  # too few: counts only
        out.append(f"<p>Milestones − single: {cmp.rate_difference * 100:+.1f} points (95 % Newcombe interval "
                   f"{cmp.difference_ci[0] * 100:+.1f} to {cmp.difference_ci[1] * 100:+.1f}; {esc(cmp.test_method)}, {esc(p_text(cmp.p_value))}).</p>")
    out.append(figure(charts.cancellation_rates(section.rates)))
    if section.adjusted is not None:
        out.append(f"<p><b>Adjusted comparison.</b> {esc(section.adjusted.message)}.</p>")
    out.append("<h3>For work like yours</h3>")
    out.append("<p>The p-values of each breakdown are also adjusted for how many groups it compares (Holm–Šidák): a group "
               "is marked as a clear difference only when the adjusted p is below 0.05 and its interval excludes 0.</p>")
    diffs = section.breakdown_differences
    for dim in BREAKDOWN_DIMENSIONS:
        out.append(f"<h4>{esc(BREAKDOWN_LABELS[dim])}</h4>")
        out.append(figure(charts.breakdown_rates(section.breakdowns, dim, f"Cancellation rate by {BREAKDOWN_LABELS[dim].lower()}")))
        part = diffs[diffs["dimension"] == dim] if diffs is not None and len(diffs) else None
        if part is not None and len(part):
            part = part.assign(
                m=[f"{a} of {b}" for a, b in zip(part["milestones_cancelled"], part["milestones_finished"])],
                s=[f"{a} of {b}" for a, b in zip(part["single_cancelled"], part["single_finished"])],
                ci=[("—" if not math.isfinite(lo) else f"{lo * 100:+.1f} to {hi * 100:+.1f}") for lo, hi in zip(part["ci_low"], part["ci_high"])],
                # As the Cancellation page: a group without finished contracts of one structure has nothing to compare.
                flag=["nothing to compare" if not (m and n) else "small sample" if s else ("clear difference" if clear else "")
                      for s, clear, m, n in zip(part["small_sample"], part["clear_difference"],
                                                part["milestones_finished"], part["single_finished"])],
            )
            out.append(table(part, [
                ("group", "group", None), ("m", "milestones cancelled", str), ("s", "single cancelled", str),
                ("rate_difference", "difference (points)", lambda x: f"{x * 100:+.1f}" if math.isfinite(x) else "—"),
                ("ci", "95 % CI", str), ("p_value", "p", lambda x: p_number(x) if math.isfinite(x) else "—"),
                ("p_adjusted", "p (adjusted)", lambda x: p_number(x) if math.isfinite(x) else "—"),
                ("flag", "", None),
            ]))
    out.append("<h3>When cancellations happen</h3>")
    if section.logrank is not None:
        lr = section.logrank
        out.append(f"<p>{esc(lr.message[0].upper() + lr.message[1:])}"
                   + (f" (log-rank χ² = {lr.chi2:.2f}, {esc(p_text(lr.p_value))})" if lr.p_value is not None else "") + ".</p>")
    out.append(figure(charts.not_cancelled_curves(section.incidence, "days")))
    out.append(figure(charts.not_cancelled_curves(section.incidence_fraction, "fraction")))
    out.append(figure(charts.cumulative_incidence(section.incidence)))
    return out


def _timing(section: CurrencySection, today: dt.date) -> list[str]:
    """Timing tables and charts; money withdrawable and work awaiting payment stood as they did on ``today``."""
    t = section.timing.assign(label=section.timing["measure"].map(MEASURES))
    out = ["<h2>Payment timing</h2>",
           table(t, [("label", "measure", None), ("structure", "structure", None), ("n", "n", format_count),
                     ("median", "median days", format_days), ("p25", "25th pct", format_days), ("p75", "75th pct", format_days),
                     ("mean", "mean", lambda x: f"{x:.1f}" if math.isfinite(x) else "—")])]
    few = int(((section.timing["n"] > 0) & (section.timing["n"] < SMALL_SAMPLE_FINISHED)).sum())
    tested = timing.first_money_sentence(section.first_payment) if section.first_payment is not None else None
    out += [f"<p>{esc(text)}</p>" for text in (sentence(timing.few_cases_note(few)) if few else None, tested) if text]
    out += [figure(charts.timing_medians(section.timing)),
           figure(charts.cash_curve(section.cash_curve)),
           f"<h3>Withdrawable money as of {today.isoformat()} (after platform holds)</h3>",
           table(section.withdrawable, [("currency", "currency", None), ("paid", "paid (net)", format_money),
                                        ("withdrawable", "cleared for withdrawal", format_money), ("on_hold", "on hold", format_money),
                                        ("next_release", "next release", format_date)], "No payments yet."),
           f"<h3>Submitted, not yet paid as of {today.isoformat()}</h3>",
           table(section.ageing, [("currency", "currency", None), ("bucket", "age", None), ("items", "items", format_count),
                                  ("amount", "amount", format_money)], "Nothing is waiting for payment."),
           figure(charts.ageing(section.ageing, section.currency))]
    return out


def _earnings(section: CurrencySection) -> list[str]:
    bs = section.by_structure()
    bs = bs.assign(rate=(bs["fees"] / bs["gross"].where(bs["gross"] != 0)),
                   unpaid_shown=[unpaid_text(r.unpaid_on_cancellation, r.status_unknown, r.contracts, r.structure)
                                 for r in bs.itertuples()])
    money_cols: list[Column] = [("gross", "gross", format_money), ("fees", "fees", format_money), ("net", "net", format_money)]
    out = [f"<h2>Earnings ({esc(section.currency)})</h2>",
           table(bs, [("structure", "structure", None), *money_cols, ("rate", "fee rate", format_pct),
                      ("bonuses", "bonuses", format_money), ("refunds", "refunds", format_money),
                      ("unpaid_shown", "unpaid on cancellation", None)]),
           figure(charts.earnings_by_month(section.months, section.currency)),
           "<h3>Realised vs agreed (fixed price)</h3>",
           *(f"<p>{esc(text)}</p>" for text in [earnings.paid_when_cancelled_sentence(section.realised, section.currency)]
             if text),
           table(section.realised, [("structure", "structure", None), ("status", "status", None),
                                    ("contracts", "contracts", format_count), ("budget_unknown", "budget unknown", format_count),
                                    ("agreed", "agreed", format_money), ("paid", "paid", format_money),
                                    ("realised_share", "realised", format_pct)]),
           "<h3>Top clients</h3>",
           *cut_note(min(15, len(section.by_client)), section.by_client_total, "client", "with the largest gross"),
           table(section.by_client.head(15), [("client", "client", None), ("contracts", "contracts paid", format_count), *money_cols,
                                             ("effective_fee_rate", "fee rate", format_pct)]),
           "<h3>By freelancer</h3>",
           *cut_note(min(30, len(section.by_freelancer)), section.by_freelancer_total, "freelancer",
                     "with the largest gross"),
           table(section.by_freelancer.head(30), [("freelancer", "freelancer", None), ("contracts", "contracts paid", format_count),
                                                  *money_cols, ("effective_fee_rate", "fee rate", format_pct)])]
    if section.pending is not None and len(section.pending):
        out += ["<h3>Pending (not yet earned)</h3>",
                table(section.pending, [("currency", "currency", None), ("items", "items", format_count), ("gross", "gross", format_money)])]
    if section.account_costs is not None and len(section.account_costs):
        out += ["<h3>Account costs (not contract fees)</h3>",
                table(section.account_costs, [("currency", "currency", None), ("items", "items", format_count),
                                              ("amount", "amount", format_money), ("fees", "fees", format_money)])]
        after = section.net_after_account_costs()
        out.append(f"<p>Net earnings after these account costs: {esc(format_money(after))} {esc(section.currency)}.</p>"
                   if after is not None else
                   "<p>These costs are the whole account's, so they are not taken off a net narrowed to some contracts.</p>")
    if section.unclassified is not None and len(section.unclassified):
        out += ["<h3>Unclassified (types the import did not know; in no contract, not in the net)</h3>",
                table(section.unclassified, [("currency", "currency", None), ("items", "items", format_count),
                                             ("amount", "amount", format_money), ("descriptions", "as the export wrote them", None)])]
    return out


def _exposure(section: CurrencySection) -> list[str]:
    money: list[Column] = [("remaining", "remaining", format_money), ("funded", "funded (escrow)", format_money),
                           ("unfunded", "unfunded", format_money), ("submitted", "submitted, awaiting release", format_money),
                           ("expected_loss", "expected loss", format_money)]
    out = [f"<h2>Exposure of active contracts ({esc(section.currency)})</h2>",
           "<p>Expected loss = remaining value × the share cancelled among finished contracts of the same currency, "
           f"structure and budget band (falling back to the same structure, then to all contracts, below "
           f"{SMALL_SAMPLE_FINISHED} finished). Hourly contracts have no agreed total and are counted, not valued.</p>",
           table(section.exposure, [("active", "active", format_count), ("hourly_active", "hourly (not valued)", format_count),
                                    *money], "No active contracts."),
           *(f"<p class=\"note\">{esc(caveat)}</p>"
             for row in section.exposure.to_dict("records")
             for caveat in (exposure.funding_caveat(row), exposure.expected_loss_caveat(row)) if caveat),
           *_exposure_chart(section.exposure_by_client, "client", section.currency),
           *_exposure_chart(section.exposure_by_freelancer, "freelancer", section.currency),
           "<h3>Largest expected losses</h3>",
           *cut_note(len(section.top_active), int(section.exposure["active"].sum()) if len(section.exposure) else 0,
                     "active contract", "with the largest expected loss"),
           table(section.top_active, [("contract_id", "contract", None), ("client", "client", None),
                                      ("freelancer", "freelancer", None), ("structure", "structure", None),
                                      ("budget", "budget", format_money), *money[:3],
                                      ("p_cancel", "cancel probability", format_pct), ("expected_loss", "expected loss", format_money)],
                 "No active contracts."),
           "<h3>Concentration of earnings</h3>",
           table(section.concentration, [("clients", "clients", format_count), ("largest_client", "largest client", None),
                                         ("largest_share", "its share", format_pct),
                                         ("hhi", "HHI (0–1)", lambda x: f"{x:.3f}"),
                                         ("unattributed_gross", "without client name", format_money)])]
    return out


def _exposure_chart(by: pd.DataFrame, key: str, currency: str) -> list[str]:
    """``charts.exposure_by`` and, when it leaves some out, how many groups have money still to be paid."""
    unpaid = int(((by["currency"] == currency) & (by["remaining"] > 0)).sum())
    return [figure(charts.exposure_by(by, key, currency)),
            *cut_note(min(charts.TOP_BARS, unpaid), unpaid, key,
                      "with the largest expected loss (then the most still to be paid)", " with money still to be paid")]


def _other_currency(section: CurrencySection) -> list[str]:
    return [f"<h2>{esc(section.currency)} contracts (reported separately)</h2>", _rates_table(section),
            f"<p>{esc(section.comparison.message[0].upper() + section.comparison.message[1:])}.</p>",
            table(section.by_structure(), [("structure", "structure", None), ("gross", "gross", format_money),
                                           ("fees", "fees", format_money), ("net", "net", format_money),
                                           ("unpaid_on_cancellation", "unpaid on cancellation", format_money)])]


def render_html(report: Report) -> str:
    """The whole report as one HTML document (UTF-8, no external resources)."""
    main = report.main
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>Milestone Lens report</title>", f"<style>{_CSS}</style>",
             f"<script>{get_plotlyjs()}</script>", "</head><body>",
             "<h1>Milestone Lens report</h1>",
             f'<p class="meta">{esc(report.filters.describe())} · as of {esc(report.today.isoformat())}'
             + (f" · amounts in {esc(main.currency)}" if main else "") + "</p>",
             "<p>Do milestones pay off? Contracts split into milestones compared with single-payment ones, "
             "from this workspace's own history.</p>"]
    parts += [f'<div class="note">{esc(sentence(n))}</div>' for n in report.notes]
    if main is not None and main.contracts > 0:
        parts += _cancellation(main) + _timing(main, report.today) + _earnings(main) + _exposure(main)
        for other in report.sections[1:]:
            parts += _other_currency(other)
    parts.append('<p class="meta">Made with Milestone Lens.</p></body></html>')
    return "\n".join(parts)
