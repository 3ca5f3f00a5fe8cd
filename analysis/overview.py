"""The Overview's answer in plain words, and earnings over time by payment structure.

The numbers come from ``analysis.cancellation`` (rates, Wilson intervals, the Newcombe
comparison); this module only words them for someone without statistics training, and
says plainly when the sample is too small to conclude anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from analysis.cancellation import RateComparison, p_text
from analysis.filters import SMALL_SAMPLE_FINISHED, Filters, payments_sql, uses_prepared
from analysis.wording import plural

STRUCTURE_NOUN = {"milestones": "milestone contract", "single": "single-payment contract", "hourly": "hourly contract"}
STRUCTURE_NOUNS = {k: v + "s" for k, v in STRUCTURE_NOUN.items()}
#: Rates closer than this ratio are "about as often", not "1.0× as often".
SAME_RATIO = 1.05
#: Below this many cancellations in the less-cancelled group, "N× as often" is not said: one more or one
#: fewer would move N a lot (3 of 40 against 11 of 38 reads 3.9×, and its 95 % interval is about 1.2–13×).
FEW_FOR_A_RATIO = 10


@dataclass(frozen=True)
class Headline:
    """The headline sentence, a second sentence on how far to trust it, and whether it concludes."""

    text: str
    detail: str
    conclusive: bool


def percent(rate: float) -> str:
    """0.243 → ``24 %``; below 10 % one decimal (0.043 → ``4.3 %``), so small rates are not rounded away."""
    value = rate * 100
    if value >= 10 or value == 0:
        return f"{value:.0f} %"
    return f"{value:.1f} %"


def percent_pair(a: float, b: float) -> tuple[str, str]:
    """Two rates side by side, with one decimal when whole percents would show different rates as
    the same ("20 % against 20 %" beside "0.7 points less often" contradicts itself)."""
    shown = percent(a), percent(b)
    if shown[0] == shown[1] and a != b:
        return f"{a * 100:.1f} %", f"{b * 100:.1f} %"
    return shown


def rate_text(cancelled: int, finished: int) -> str:
    """A rate as a reader should see it: a percentage, or ``3 of 12`` for a small sample."""
    if finished == 0:
        return "no finished contracts"
    if finished < SMALL_SAMPLE_FINISHED:
        return f"{cancelled} of {finished}"
    return percent(cancelled / finished)


def headline(comparison: RateComparison, filtered: bool = False, compared_contracts: int | None = None) -> Headline:
    """``In your history, single-payment contracts were cancelled 1.8× as often as milestone
    contracts (24 % of 812 vs 13 % of 790 finished).`` — or why no such sentence can be said yet.

    ``filtered``: the comparison is over the contracts some filters chose, so a missing group
    may be the filters' doing (and the sample is no answer to it). ``compared_contracts``: how many
    contracts of the two groups there are, finished or not (0: only hourly ones, none to finish)."""
    a, b = comparison.a, comparison.b
    a_noun, b_noun = STRUCTURE_NOUNS.get(a, a), STRUCTURE_NOUNS.get(b, b)
    ac, an, bc, bn = comparison.a_cancelled, comparison.a_finished, comparison.b_cancelled, comparison.b_finished
    if an == 0 and bn == 0 and compared_contracts == 0:
        return Headline(
            f"There are no {a_noun} or {b_noun} here, only hourly ones, so there is nothing to compare.",
            "The comparison is between fixed-price contracts paid in milestones and those paid once; hourly contracts "
            "are in payment timing and earnings"
            + (" (these filters may leave the others out)." if filtered else "."),
            False,
        )
    if an == 0 and bn == 0:
        return Headline(
            f"None of your {a_noun} or {b_noun} is known to have finished, so there is nothing to compare.",
            "A contract counts once it is completed, cancelled or disputed; contracts whose status is unknown "
            "count once you complete them.",
            False,
        )
    if an == 0 or bn == 0:
        missing, other = (a_noun, b_noun) if an == 0 else (b_noun, a_noun)
        have, other_key = (bn, b) if an == 0 else (an, a)
        return Headline(
            f"Your history has no finished {missing} yet, so there is nothing to compare {other} against.",
            f"{plural(have, 'finished ' + STRUCTURE_NOUN.get(other_key, other_key))}. Cancellation risk is estimated from your own history only; "
            + ("these filters may leave them out: widen or remove a filter in the sidebar, or import more contracts."
               if filtered else "import more contracts, or load the sample to see how the comparison works."),
            False,
        )
    if comparison.small_sample:
        return Headline(
            f"Too few finished contracts to compare: {ac} of {an} {a_noun} and {bc} of {bn} {b_noun} were cancelled.",
            f"A comparison needs at least {SMALL_SAMPLE_FINISHED} finished contracts of each kind; "
            "with fewer, a single contract can swing the rate by several points.",
            False,
        )
    ar, br = ac / an, bc / bn
    a_shown, b_shown = percent_pair(ar, br)
    counts = f"{a_shown} of {an:,} vs {b_shown} of {bn:,} finished"
    if ar == 0 and br == 0:
        text = f"In your history, none of the {an:,} finished {a_noun} and none of the {bn:,} {b_noun} were cancelled."
    elif ar == 0 or br == 0:
        never, some = (a_noun, b_noun) if ar == 0 else (b_noun, a_noun)
        some_rate, never_n = (br, an) if ar == 0 else (ar, bn)
        text = (f"In your history, {some} were cancelled {percent(some_rate)} of the time; "
                f"none of the {never_n:,} finished {never} were.")
    else:
        high, low = (b_noun, a_noun) if br > ar else (a_noun, b_noun)
        high_rate, low_rate = max(ar, br), min(ar, br)
        high_n, low_n = (bn, an) if br > ar else (an, bn)
        low_cancelled = ac if br > ar else bc
        ratio = high_rate / low_rate
        if ratio < SAME_RATIO:
            text = f"In your history, {a_noun} and {b_noun} were cancelled about as often ({counts})."
        elif low_cancelled < FEW_FOR_A_RATIO:
            high_shown, low_shown = percent_pair(high_rate, low_rate)
            text = (f"In your history, {high} were cancelled more often than {low} "
                    f"({high_shown} of {high_n:,} vs {low_shown} of {low_n:,} finished; with only "
                    f"{plural(low_cancelled, 'cancellation')} among the {low}, how many times as often "
                    "cannot be said).")
        else:
            high_shown, low_shown = percent_pair(high_rate, low_rate)
            text = (f"In your history, {high} were cancelled {ratio:.1f}× as often as {low} "
                    f"({high_shown} of {high_n:,} vs {low_shown} of {low_n:,} finished).")
    ci = comparison.difference_ci
    p_value = comparison.p_value
    if comparison.clear_difference:
        near, far = sorted((abs(ci[0]), abs(ci[1])))
        detail = (f"The difference is unlikely to be chance ({p_text(p_value)}): the {a_noun}' rate is "
                  f"{near * 100:.1f} to {far * 100:.1f} points {'lower' if ci[1] < 0 else 'higher'} "
                  f"than the {b_noun}' (95 % interval).")
        return Headline(text, detail, True)
    if p_value is not None and p_value < 0.05:  # the test alone: the interval still includes no difference
        detail = (f"Unproven: the test finds the difference unlikely to be chance ({p_text(p_value)}), but its 95 % "
                  "interval still includes 0 (no difference); don't base a decision on it alone.")
    else:
        detail = (f"A difference this size could well be chance ({p_text(p_value)}); don't base a decision on it alone."
                  if p_value is not None else "")
    return Headline(text, detail, False)



@uses_prepared
def earnings_by_month_and_structure(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Earned gross, fees and net per payment currency, month of payment and structure.

    Undated payments (contract-level totals) are left out of a time series and counted in
    ``undated_payments`` of every row of their currency. Columns: currency, month (first day,
    a Timestamp), structure, payments, gross, fees, net, undated_payments.
    """
    pay, params = payments_sql(filters)
    return con.execute(
        f"""WITH p AS ({pay}),
            undated AS (SELECT currency, count(*) AS undated_payments FROM p WHERE paid_date IS NULL GROUP BY currency)
            SELECT p.currency, date_trunc('month', p.paid_date)::TIMESTAMP AS month, p.structure,
                   count(*) AS payments, sum(p.gross)::DOUBLE AS gross, sum(p.fee)::DOUBLE AS fees,
                   sum(p.gross - p.fee)::DOUBLE AS net, coalesce(any_value(u.undated_payments), 0) AS undated_payments
            FROM p LEFT JOIN undated u USING (currency)
            WHERE p.paid_date IS NOT NULL
            GROUP BY ALL ORDER BY p.currency, month, p.structure""",
        params,
    ).df()
