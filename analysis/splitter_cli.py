"""``milestone-lens split``: the what-if splitter on the command line (model in ``analysis.splitter``)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
from collections.abc import Sequence

from analysis import splitter
from analysis.cli import command, emit_json, workspace_to_read
from analysis.errors import UserError
from analysis.filters import parse_date
from analysis.platforms import PRESETS


def _configure_split(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", type=float, required=True, help="agreed total price")
    p.add_argument("--days", type=float, required=True, help="working days from start to delivery")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--milestones", type=int, help="number of milestones (split by --shape)")
    how.add_argument("--amounts", help="explicit milestone amounts, comma-separated (must add up to the budget)")
    p.add_argument("--shape", choices=splitter.SPLIT_SHAPES, default="equal", help="how --milestones splits the budget (default equal)")
    p.add_argument("--due-days", help="explicit due days, comma-separated (default: equal stretches of time)")
    p.add_argument("--wait-days", type=float, default=0.0,
                   help="days you pause after each submission before starting the next milestone (default 0)")
    p.add_argument("--platform", choices=sorted(PRESETS), default=splitter.DEFAULT_PLATFORM,
                   help=f"fee and timing rules (default {splitter.DEFAULT_PLATFORM})")
    p.add_argument("--fee", help="flat fee rate instead of the platform's rule: 0.10 or 10%%")
    p.add_argument("--review-days", type=float, help="client review window after each submission")
    p.add_argument("--hold-days", type=float, help="security hold before released money is withdrawable")
    p.add_argument("--min-milestone", type=float, help="smallest milestone the platform accepts")
    p.add_argument("--billed-before", type=float, default=0.0, help="already billed with this client (sliding fee)")
    risk = p.add_mutually_exclusive_group()
    risk.add_argument("--cancel-prob", type=float, help="probability the client cancels before the end")
    risk.add_argument("--calibrate", action="store_true", help="estimate the risk from the workspace history")
    p.add_argument("--hazard", choices=sorted(splitter.HAZARD_SHAPES),
                   help="when cancellations happen (default constant; --calibrate estimates it)")
    p.add_argument("--currency", metavar="CODE", action="append",
                   help="with --calibrate: only contracts in this currency (repeat it for several: the one of them "
                        "with the most fixed-price contracts, as the report picks)")
    p.add_argument("--today", metavar="DATE",
                   help="with --calibrate: the as-of date for active contracts (default: today), as for report")
    p.add_argument("--max-loss-share", type=float, default=splitter.DEFAULT_MAX_LOSS_SHARE,
                   help=f"recommendation: largest share of the budget at stake (default {splitter.DEFAULT_MAX_LOSS_SHARE})")
    p.add_argument("--json", action="store_true", help="print a JSON document")


def _numbers(text: str, option: str) -> list[float]:
    values = []
    for part in text.split(","):
        try:
            values.append(float(part.strip()))
        except ValueError:
            raise UserError(f"{option}: {part.strip()!r} is not a number") from None
    return values


def _fee_rate(text: str | None) -> float | None:
    if text is None:
        return None
    value = text.strip()
    percent = value.endswith("%")
    try:
        rate = float(value.rstrip("%").strip())
    except ValueError:
        raise UserError(f"--fee: {text!r} is not a rate (give 0.10 or 10%)") from None
    return rate / 100 if percent else rate


def _calibrated(args: argparse.Namespace, plan_structure: str, as_of: dt.date
                ) -> tuple[splitter.Calibration, splitter.Calibration, splitter.ReviewHistory]:
    """The plan's and the single payment's risk from the workspace, and its clients' review time."""
    with workspace_to_read(args, "no workspace to calibrate from; import a history first or give --cancel-prob") as con:
        plan_cal = splitter.calibrate(con, args.budget, plan_structure, currency=args.currency, as_of=as_of)
        single_cal = (plan_cal if plan_structure == "single"
                      else splitter.calibrate(con, args.budget, "single", currency=args.currency, as_of=as_of))
        review = splitter.review_history(con, args.platform)
    return plan_cal, single_cal, review


def _with_hazard(risk: splitter.Risk, hazard: str | None) -> splitter.Risk:
    if hazard is None:
        return risk
    return dataclasses.replace(risk, hazard_shape=splitter.HAZARD_SHAPES[hazard])


@command("split", _configure_split)
def run_split(args: argparse.Namespace) -> int:
    """What-if splitter: a milestone plan against one payment at the end."""
    terms = splitter.platform_terms(args.platform, fee=_fee_rate(args.fee), review_days=args.review_days,
                                   hold_days=args.hold_days, min_milestone=args.min_milestone)
    amounts = _numbers(args.amounts, "--amounts") if args.amounts is not None else None
    due_days = _numbers(args.due_days, "--due-days") if args.due_days is not None else None
    if args.milestones is not None and args.milestones < 1:
        raise UserError(f"--milestones must be at least 1, got {args.milestones}")
    try:
        plan = splitter.make_plan(args.budget, args.days, milestones=args.milestones, amounts=amounts,
                                  shape=args.shape, due_days=due_days, wait_days=args.wait_days, terms=terms)
    except UserError as exc:
        raise (exc if args.amounts is None else splitter.amounts_error(exc, args.amounts, args.budget)) from None
    if not math.isfinite(args.billed_before) or args.billed_before < 0:
        raise UserError(f"--billed-before must be zero or more, got {args.billed_before:g}")
    as_of = parse_date(args.today, "--today") or dt.date.today()  # refused when not a date, as report does
    if args.today is not None and not args.calibrate:
        raise UserError("--today is the as-of date of --calibrate's history; without --calibrate it changes nothing")
    if args.currency and not args.calibrate:
        raise UserError("--currency chooses the currency of --calibrate's history; without --calibrate it changes nothing")
    calibration = review = None
    if args.calibrate:
        structure = "milestones" if len(plan.milestones) > 1 else "single"
        plan_cal, single_cal, review = _calibrated(args, structure, as_of)
        plan_risk, single_risk = (_with_hazard(r, args.hazard) for r in splitter.comparable_risks(plan_cal, single_cal))
        warnings = [f"{w}; to plan with it, give --cancel-prob {_rate(cal)}"
                    for w, cal in splitter.contradicted_sides(plan_cal, single_cal, plan_risk, single_risk)]
        calibration = {"plan": plan_cal.to_json(), "single_payment": single_cal.to_json(),
                       "caveat": splitter.observed_not_caused(plan_risk, single_risk), "review": review.to_json(),
                       "warnings": warnings}
    elif args.cancel_prob is not None:
        plan_risk = single_risk = splitter.make_risk(args.cancel_prob, args.hazard or "constant")
    else:
        note = (f"no --cancel-prob or --calibrate: assuming {splitter.DEFAULT_CANCEL_PROB:.0%} cancel before the end "
                "(an assumption, not your data)")
        plan_risk = single_risk = splitter.make_risk(splitter.DEFAULT_CANCEL_PROB, args.hazard or "constant",
                                                     source="default", note=note)
    comparison = splitter.compare(plan, terms, plan_risk, single_risk, billed_before=args.billed_before)
    recommendation = splitter.recommend(args.budget, args.days, terms, plan_risk, max_loss_share=args.max_loss_share,
                                        shape=args.shape if amounts is None else "equal", single_risk=single_risk,
                                        wait_days=args.wait_days if due_days is None else 0.0,
                                        billed_before=args.billed_before)
    if args.json:
        document = comparison.to_json()
        document["recommendation"] = recommendation.to_json()
        if calibration is not None:
            document["calibration"] = calibration
        emit_json(document)
    else:
        print(describe(comparison, recommendation, review if args.review_days is None else None,
                       warnings=calibration["warnings"] if calibration else ()))
    return 0


def _rate(cal: splitter.Calibration) -> str:
    """The history's cancellation rate as ``--cancel-prob`` takes it (two decimals)."""
    rate = cal.risk.cancel_prob if not cal.fallback else cal.cancelled / cal.finished
    return f"{round(rate, 2):g}"


def describe(c: splitter.Comparison, rec: splitter.Recommendation, review: splitter.ReviewHistory | None = None,
             warnings: Sequence[str] = ()) -> str:
    """The comparison as a short text report (with what the history says of the review time, when given), and
    ``warnings`` first, where they are seen (the history contradicting the risk the figures assume)."""
    p, s = c.plan_outcome, c.single_outcome
    lines = [f"Budget {c.plan.budget:,.2f} over {c.plan.days:g} days, {len(c.plan.milestones)} milestone"
             f"{'s' if len(c.plan.milestones) != 1 else ''} ({c.plan.shape}); {c.terms.label}: review "
             f"{c.terms.review_days:g} d, hold {c.terms.hold_days:g} d.", ""]
    if warnings:
        lines[1:1] = [f"WARNING: {w}." for w in warnings]
    schedule = [[f"{r.seq}", f"{r.amount:,.2f}", f"{r.start_day:.2f}", f"{r.due_day:.2f}",
                 f"{r.expected_release_day:.2f}", f"{r.prob_paid:.1%}"] for r in p.milestones.itertuples()]
    lines += _columns([["seq", "amount", "start", "due", "withdrawable", "P(paid)"], *schedule],
                      [3, 10, 7, 7, 12, 7])

    def days(v: float | None) -> str:
        return "—" if v is None else f"{v:.1f}"

    lines += [""] + _columns([
        ["", "plan", "single payment"],
        ["expected net", f"{p.expected_net:,.2f}", f"{s.expected_net:,.2f}"],
        ["max loss (gross)", f"{p.max_loss:,.2f}", f"{s.max_loss:,.2f}"],
        ["P(paid nothing)", f"{p.prob_paid_nothing:.1%}", f"{s.prob_paid_nothing:.1%}"],
        ["days to cash (amount-weighted)", days(p.expected_days_to_cash), days(s.expected_days_to_cash)],
        ["days to first cash", days(p.days_to_first_cash), days(s.days_to_first_cash)],
    ], [28, 12, 14], label=True) + [""]
    for label, risk in (("plan", c.plan_risk), ("single payment", c.single_risk)):
        lines.append(f"Risk ({label}, {risk.source}): "
                     + (risk.note if risk.note else f"{risk.cancel_prob:.1%} cancel before the end, {risk.hazard_label} hazard") + ".")
        if c.plan_risk == c.single_risk:
            break
    certain = splitter.certain_cancellation(c.plan_risk, c.single_risk)  # names only the side it applies to
    if certain:
        lines.append(f"{certain[:1].upper()}{certain[1:]}.")
    if not splitter.protects_handins(c.terms):
        lines.append(f"No escrow: a milestone is paid only if the client is still there {c.terms.review_days:g} days after "
                     "its hand-in, when it pays; until then handed-in work is at stake (in max loss and P(paid)).")
    if_cancelled = c.single_risk.if_cancelled_json()["note"]
    lines.append(f"Single payment if cancelled: {if_cancelled}.")
    caveat = splitter.observed_not_caused(c.plan_risk, c.single_risk)
    if caveat:
        lines.append(f"Note: {caveat}.")
    if review is not None:
        use = (f"; plan with it: --review-days {review.median_days:g}" if review.median_days is not None else "")
        assumed = (f"{c.terms.review_days:g} days, the platform's longest" if c.terms.review_days
                   else "payment on the day of the hand-in (the platform sets no review window)")
        lines.append(f"Review time: {review.message}. This plan assumes {assumed}{use}.")
    fees = splitter.fee_warning(c)
    if fees:
        lines.append(f"Warning: {fees}.")
    lines.append(f"Recommendation: {rec.reason}.")
    if rec.review_days_per_milestone:
        lines.append(f"Each extra milestone is one more client review of up to {rec.review_days_per_milestone:g} days "
                     "(added to the finish if you wait for each approval before starting the next).")
    return "\n".join(lines)



def _columns(rows: list[list[str]], widths: list[int], *, label: bool = False) -> list[str]:
    """Rows of cells as lines: each column as wide as its widest cell (at least ``widths``), right-aligned (the
    first left-aligned when it is a ``label``), two spaces between columns whatever the figures' size (a
    budget of a trillion ran "845,241,550,213.47810,000,000,000.00" together)."""
    widths = [max(w, *(len(row[i]) for row in rows)) for i, w in enumerate(widths)]
    return ["  ".join(cell.ljust(w) if label and i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
