"""The what-if splitter: what splitting the next contract into milestones buys, in money and time.

The model, stated once:

* The work runs from day 0 to day ``days`` at a steady pace. Milestone *i* is worked on from
  ``start_day`` to ``due_day`` and submitted on its due day; its escrow was funded before the
  work began (Upwork's rule), so a milestone submitted before the client cancels is paid.
  Work on a milestone that was not yet submitted when the client cancels is lost.
* The client cancels at a random time T. ``Risk`` gives its survival function
  ``S(t) = P(T > t) = (1 - p) ** ((t / days) ** k)``: the probability of cancelling before the
  planned end is ``p``; ``k = 1`` is a constant hazard, ``k < 1`` front-heavy (most
  cancellations early), ``k > 1`` back-heavy. Time is measured in days, so a plan that waits
  between milestones stays exposed for longer.
* Money paid for a milestone becomes withdrawable ``review_days + hold_days`` after its due day
  (the platform's review window and security hold), minus the platform fee.

With those rules the number of milestones paid is a discrete random variable with
``P(paid >= i) = S(due_i)``, so every output — expected earnings, the probability of being paid
nothing, the whole outcome distribution and the expected cash curve — is exact; nothing here
needs a simulation. ``max_loss`` is the largest amount of finished-but-unpaid work at any
moment (gross): work in progress on milestone *i* is worth up to its whole amount just before
it is submitted, so under escrow ``max_loss`` is the largest milestone.

Without escrow (a direct client) and with a payment delay (``review_days``), a handed-in milestone
is not yet money: it is paid only if the client is still there when it pays, ``review_days`` after
the hand-in, so ``P(paid >= i) = S(due_i + review_days)`` and the handed-in work stays at stake
until then (``secured_days``, ``max_unpaid``).

Everything returns dataclasses or DataFrames and is easy to drive from a dashboard page:
``make_plan`` → ``compare`` (or ``evaluate``) → ``Comparison.to_json()``; ``recommend`` for the
smallest safe number of milestones; ``calibrate`` to estimate the risk from the workspace.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from analysis.errors import UserError
from analysis.filters import SMALL_SAMPLE_FINISHED, Filters, currency_counts, uses_prepared
from analysis.platforms import PRESETS, PlatformPreset
from analysis.wording import STRUCTURE_WORDS, plural

SPLIT_SHAPES = ("equal", "front-loaded", "back-loaded")
#: Named cancellation-timing shapes and their Weibull exponent ``k``.
HAZARD_SHAPES: dict[str, float] = {"constant": 1.0, "front-heavy": 0.5, "back-heavy": 2.0}
#: The platform the splitter assumes when none is named.
DEFAULT_PLATFORM = "upwork"
#: Assumed when the user gives no probability and the history cannot tell (an assumption, not data).
DEFAULT_CANCEL_PROB = 0.10
#: Share of the budget a plan may leave at stake at any moment, unless the user says otherwise.
DEFAULT_MAX_LOSS_SHARE = 0.25
#: Calibration needs at least this many finished comparable contracts to be worth stating: the
#: same number the report asks of each kind before comparing their cancellation rates.
MIN_CALIBRATION_CONTRACTS = SMALL_SAMPLE_FINISHED
#: ... and this many distinct cancellation times inside the planned duration to estimate the shape.
MIN_SHAPE_EVENTS = 3
#: "Similar budget" means within this factor of the planned budget.
SIMILAR_BUDGET_FACTOR = 2.0
#: Front-loaded plans start at this multiple of the average milestone and fall linearly to
#: ``2 - FRONT_LOAD`` (back-loaded plans mirror it).
FRONT_LOAD = 1.5
#: Recommendation tables list at most this many plans.
MAX_TABLE_ROWS = 60
#: The most milestones a plan may have (nobody manages more; the model's tables grow with the count), and the
#: furthest the recommender looks.
MAX_MILESTONES = 1000
MAX_RECOMMENDED_MILESTONES = MAX_MILESTONES
#: Bounds of what the model takes (larger or smaller numbers overflow the cent arithmetic or the
#: survival curve): a budget up to a trillion, durations from a quarter of an hour to a century.
MAX_BUDGET = 1e12
MIN_DAYS = 0.01
MAX_DAYS = 36_500.0


# --- inputs ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Milestone:
    """One milestone of a plan: its amount (held in cents, exactly) and when it is worked on."""

    seq: int
    amount_cents: int
    start_day: float
    due_day: float

    @property
    def amount(self) -> float:
        return self.amount_cents / 100


@dataclass(frozen=True)
class Plan:
    """A budget split into milestones over a timeline (one milestone = a single payment)."""

    budget_cents: int
    days: float
    milestones: tuple[Milestone, ...]
    shape: str = "equal"
    wait_days: float = 0.0

    @property
    def budget(self) -> float:
        return self.budget_cents / 100

    @property
    def amounts(self) -> list[float]:
        return [m.amount for m in self.milestones]

    @property
    def finish_day(self) -> float:
        return self.milestones[-1].due_day

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "seq": [m.seq for m in self.milestones],
            "amount": self.amounts,
            "start_day": [m.start_day for m in self.milestones],
            "due_day": [m.due_day for m in self.milestones],
        })


@dataclass(frozen=True)
class Risk:
    """When the client cancels: probability ``cancel_prob`` of cancelling before the planned end,
    timing exponent ``hazard_shape`` (1 constant hazard, < 1 front-heavy, > 1 back-heavy).

    ``source`` says where the numbers come from (``given``, ``calibrated``, ``default``) and
    ``note`` explains it in a sentence; calibrated risks also carry the evidence.
    """

    cancel_prob: float
    hazard_shape: float = 1.0
    source: str = "given"
    note: str = ""
    contracts: int | None = None
    cancelled: int | None = None
    cancel_prob_ci: tuple[float, float] | None = None
    #: What a cancelled single payment still brings (measured by ``calibrate`` on single-payment contracts, else
    #: the stated assumption: nothing): the mean share of the budget a cancelled one received, the share of the
    #: cancelled ones that received anything, and the evidence in a sentence. Multi-milestone plans ignore it.
    cancelled_paid_share: float = 0.0
    cancelled_paid_any: float = 0.0
    cancelled_paid_note: str = ""

    @property
    def hazard_label(self) -> str:
        return hazard_label(self.hazard_shape)

    def survival(self, day: float | np.ndarray, days: float) -> np.ndarray:
        """P(no cancellation by ``day``) for a contract planned to last ``days``."""
        fraction = np.clip(np.asarray(day, dtype=float) / days, 0.0, None)
        if self.cancel_prob >= 1.0:
            # 0 ** x is 0 for every x > 0; computed, a steep hazard's fraction ** k underflows to 0 early in
            # the contract and 0 ** 0 = 1 would pay an early milestone of a certain cancellation.
            return np.where(fraction > 0, 0.0, 1.0)
        with np.errstate(divide="ignore"):
            return np.power(1.0 - self.cancel_prob, np.power(fraction, self.hazard_shape))

    def to_json(self) -> dict:
        return {
            "cancel_prob": self.cancel_prob, "hazard_shape": self.hazard_shape,
            "hazard": self.hazard_label, "source": self.source, "note": self.note,
            "contracts": self.contracts, "cancelled": self.cancelled,
            "cancel_prob_ci": list(self.cancel_prob_ci) if self.cancel_prob_ci else None,
        }

    def if_cancelled_json(self) -> dict:
        """What a cancelled single payment brings under this risk, for ``split --json``."""
        return {"share_of_budget": round(self.cancelled_paid_share, 6), "prob_paid_something": round(self.cancelled_paid_any, 6),
                "source": "history" if self.cancelled_paid_note else "assumed",
                "note": self.cancelled_paid_note or NOTHING_IF_CANCELLED}


#: The single payment's stated assumption when the history does not say what cancelled ones received.
NOTHING_IF_CANCELLED = ("a cancelled single payment is assumed to pay nothing (--calibrate measures what your cancelled "
                        "single-payment contracts still received, when there are enough of them)")


def certain_cancellation(plan_risk: Risk, single_risk: Risk | None = None) -> str | None:
    """What a 100 % risk means in this model, naming only the side it applies to (``S(t) = 0 ** (t / days)`` is 0
    for every t > 0: the client cancels at day 0, before any hand-in), else None. ``plan_risk`` is the milestone
    plans', ``single_risk`` the single payment's (default the same). A certain single payment still brings what
    cancelled single payments received, when calibration measured it (``cancelled_paid_share``): then it is not
    said to pay nothing. A risk just below 100 % is a client who may still last a while: at 99 % with a constant
    hazard, a quarter of them reach a quarter of the contract."""
    single_risk = single_risk or plan_risk
    plan_certain, single_certain = plan_risk.cancel_prob >= 1.0, single_risk.cancel_prob >= 1.0
    if not plan_certain and not single_certain:
        return None
    part = single_risk.cancelled_paid_share if single_certain else 0.0
    if plan_certain and single_certain and not part:
        return "at 100 % the model has the client cancel at once, before any hand-in: nothing is paid under any plan"
    single = (f"the single payment brings only what your cancelled single payments received ({part:.1%} of the budget "
              "on average)" if part else "the single payment pays nothing")
    if not plan_certain:
        return f"at the single payment's 100 % the model has the client cancel at once, before its hand-in: {single}"
    if not single_certain:
        return ("at the plan's 100 % the model has the client cancel at once, before the first hand-in: a plan of "
                "milestones pays nothing")
    return f"at 100 % the model has the client cancel at once, before any hand-in: a plan of milestones pays nothing; {single}"


def hazard_label(k: float) -> str:
    """A name for a timing exponent: the named shape it equals, or the direction it leans."""
    for name, value in HAZARD_SHAPES.items():
        if math.isclose(k, value):
            return name
    if k < 0.8:
        return f"front-heavy (k={k:.2f})"
    if k > 1.25:
        return f"back-heavy (k={k:.2f})"
    return f"about constant (k={k:.2f})"


def make_risk(cancel_prob: float, hazard: str | float = "constant", *, source: str = "given", note: str = "") -> Risk:
    """A validated ``Risk``: ``hazard`` is a name from ``HAZARD_SHAPES`` or a positive exponent."""
    if not _finite(cancel_prob) or not 0.0 <= cancel_prob <= 1.0:
        raise UserError(f"cancellation probability must be between 0 and 1, got {cancel_prob:g}")
    if isinstance(hazard, str):
        if hazard not in HAZARD_SHAPES:
            raise UserError(f"unknown hazard shape {hazard!r} (expected one of {', '.join(HAZARD_SHAPES)})")
        k = HAZARD_SHAPES[hazard]
    else:
        k = float(hazard)
        if not _finite(k) or k <= 0:
            raise UserError(f"hazard shape must be a positive number, got {hazard!r}")
    return Risk(float(cancel_prob), k, source=source, note=note)


def platform_terms(platform: str = DEFAULT_PLATFORM, *, fee: float | None = None, review_days: float | None = None,
                   hold_days: float | None = None, min_milestone: float | None = None) -> PlatformPreset:
    """A platform preset from ``analysis.platforms.PRESETS`` with the user's custom values applied.

    ``fee`` replaces the fee rule by a flat rate (0.10 for 10 %).
    """
    key = platform.lower()
    if key not in PRESETS:
        raise UserError(f"unknown platform {platform!r} (expected one of {', '.join(PRESETS)})")
    preset = PRESETS[key]
    changes: dict = {}
    if fee is not None:
        if not _finite(fee) or not 0.0 <= fee <= 1.0:
            raise UserError(f"--fee must be a rate between 0 and 1 (0.10 for 10 %), got {fee:g}")
        changes.update(fee_rate=float(fee), min_fee=0.0, sliding=False)
    for name, value in (("review_days", review_days), ("hold_days", hold_days), ("min_milestone", min_milestone)):
        if value is not None:
            if not _finite(value) or value < 0:
                raise UserError(f"--{name.replace('_', '-')} must be zero or more, got {value:g}")
            if value > (MAX_BUDGET if name == "min_milestone" else MAX_DAYS):
                raise UserError(f"--{name.replace('_', '-')} must be at most "
                                f"{MAX_BUDGET if name == 'min_milestone' else MAX_DAYS:,.0f}, got {value:g}")
            changes[name] = float(value)
    if changes:
        label = preset.label + " with " + ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in changes.items() if k != "sliding" and k != "min_fee")
        preset = dataclasses.replace(preset, label=label, **changes)
    return preset


# --- plans ----------------------------------------------------------------------------------

def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def to_cents(value: float, what: str = "budget") -> int:
    """An amount as whole cents; refuses fractions of a cent and non-numbers."""
    if not _finite(value):
        raise UserError(f"{what} must be a number, got {value!r}")
    if abs(float(value)) > MAX_BUDGET:
        raise UserError(f"{what} must be at most {MAX_BUDGET:,.0f}, got {float(value):g}")
    cents = round(float(value) * 100)
    if abs(float(value) * 100 - cents) > 1e-6 * max(1.0, abs(cents)):
        raise UserError(f"{what} {value!r} has fractions of a cent")
    return int(cents)


def _check_budget_days(budget: float, days: float) -> int:
    cents = to_cents(budget, "budget")
    if cents <= 0:
        raise UserError(f"budget must be more than 0, got {budget:g}")
    if cents > MAX_BUDGET * 100:
        raise UserError(f"budget must be at most {MAX_BUDGET:,.0f}, got {budget:g}")
    if _finite(days) and days <= 0:
        raise UserError(f"days must be more than 0, got {days:g}")
    if not _finite(days) or not MIN_DAYS <= days <= MAX_DAYS:  # inf and nan get the bounds, as 1e-9 does
        raise UserError(f"days must be between {MIN_DAYS:g} and {MAX_DAYS:,.0f}, got {days:g}")
    return cents


def _check_count(n: int) -> None:
    """Refuses a plan of more than ``MAX_MILESTONES`` milestones."""
    if n > MAX_MILESTONES:
        raise UserError(f"a plan may have at most {MAX_MILESTONES:,} milestones, got {n:,}")


def split_weights(n: int, shape: str = "equal") -> np.ndarray:
    """Relative sizes of ``n`` milestones: equal, or falling (front-loaded) / rising (back-loaded)
    linearly from 1.5 to 0.5 times the average."""
    if shape not in SPLIT_SHAPES:
        raise UserError(f"unknown split shape {shape!r} (expected one of {', '.join(SPLIT_SHAPES)})")
    if shape == "equal" or n == 1:
        return np.ones(n)
    falling = np.linspace(FRONT_LOAD, 2 - FRONT_LOAD, n)
    return falling if shape == "front-loaded" else falling[::-1]


def _largest_remainder(budget_cents: int, weights: np.ndarray) -> np.ndarray:
    ideal = budget_cents * weights / weights.sum()
    cents = np.floor(ideal + 1e-9).astype(np.int64)
    short = budget_cents - int(cents.sum())
    order = np.argsort(-(ideal - cents), kind="stable")
    cents[order[:short]] += 1
    return cents


def plan_cents(budget_cents: int, n: int, shape: str = "equal") -> list[int]:
    """Split ``budget_cents`` into ``n`` whole-cent amounts in proportion to the shape's weights.

    Largest-remainder rounding: every amount is within a cent of its ideal share and the amounts
    add up to the budget exactly; leftover cents go to the earliest milestones.
    """
    if n < 1:
        raise UserError(f"a plan needs at least 1 milestone, got {n}")
    if n > budget_cents:
        raise UserError(f"{n} milestones are more than the budget has cents ({budget_cents})")
    cents = _largest_remainder(budget_cents, split_weights(n, shape))
    if (cents <= 0).any():
        raise UserError(f"a {shape} split of {budget_cents / 100:,.2f} into {n} milestones leaves a milestone at 0")
    return [int(c) for c in cents]


def plan_amounts(budget: float, n: int, shape: str = "equal") -> list[float]:
    """Milestone amounts (in currency units) that add up to ``budget`` to the cent."""
    return [c / 100 for c in plan_cents(to_cents(budget), n, shape)]


def make_plan(budget: float, days: float, *, milestones: int | None = None, amounts: Sequence[float] | None = None,
              shape: str = "equal", due_days: Sequence[float] | None = None, wait_days: float = 0.0,
              terms: PlatformPreset | None = None) -> Plan:
    """A validated plan from either a number of milestones (with a split shape) or explicit amounts.

    Without ``due_days`` the work is split into equal stretches of time; ``wait_days`` is a pause
    after each submission before the next milestone starts (e.g. waiting for approval and funding),
    which stretches the timeline by ``wait_days`` per extra milestone. ``terms`` enforces the
    platform's minimum milestone.
    """
    budget_cents = _check_budget_days(budget, days)
    if (milestones is None) == (amounts is None):
        raise UserError("give either a number of milestones or explicit amounts")
    if amounts is not None:
        _check_count(len(amounts))
        cents = [to_cents(a, f"amount {i}") for i, a in enumerate(amounts, 1)]
        if not cents:
            raise UserError("a plan needs at least 1 milestone")
        bad = next((i for i, c in enumerate(cents, 1) if c <= 0), None)
        if bad is not None:
            raise UserError(f"amount {bad} must be more than 0, got {amounts[bad - 1]:g}")
        if sum(cents) != budget_cents:
            raise UserError(f"{_AMOUNTS_OFF} {sum(cents) / 100:,.2f}, not the budget {budget_cents / 100:,.2f}")
        shape = "custom"
    else:
        if isinstance(milestones, bool) or int(milestones) != milestones:
            raise UserError(f"the number of milestones must be a whole number, got {milestones!r}")
        _check_count(int(milestones))
        cents = plan_cents(budget_cents, int(milestones), shape)
    n = len(cents)
    if terms is not None:
        min_cents = round(terms.min_milestone * 100)
        small = next((i for i, c in enumerate(cents, 1) if c < min_cents), None)
        if small is not None:
            raise UserError(f"milestone {small} is {cents[small - 1] / 100:,.2f}, below the {terms.name} minimum "
                            f"milestone of {terms.min_milestone:,.2f}")
    if not _finite(wait_days) or wait_days < 0:
        raise UserError(f"wait days must be zero or more, got {wait_days:g}")
    if wait_days > MAX_DAYS:
        raise UserError(f"wait days must be at most {MAX_DAYS:,.0f}, got {wait_days:g}")
    if due_days is not None:
        if wait_days:
            raise UserError("give either explicit due days or wait days between milestones, not both")
        due = [float(d) for d in due_days]
        if len(due) != n:
            raise UserError(f"{len(due)} due days for {n} milestones")
        if not all(_finite(d) for d in due) or due[0] <= 0 or any(b < a for a, b in zip(due, due[1:])):
            raise UserError("due days must be more than 0 and in order")
        if due[-1] > days + 1e-9:
            raise UserError(f"the last due day {due[-1]:g} is after the end of the contract (day {days:g})")
        starts = [0.0] + due[:-1]
    else:
        work = days / n
        starts = [i * (work + wait_days) for i in range(n)]
        due = [s + work for s in starts]
        due[-1] = float(days) + (n - 1) * wait_days  # exact, whatever the float sums did
    return Plan(budget_cents, float(days), tuple(Milestone(i + 1, c, s, d) for i, (c, s, d) in enumerate(zip(cents, starts, due))),
                shape=shape, wait_days=float(wait_days))


#: ``1,500`` in a list of amounts: digits with thousands separators, which a split at every comma breaks apart.
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d.])")
_AMOUNTS_OFF = "the amounts add up to"


#: How the refusals of the amounts themselves begin (their sum, one of them, one below the platform minimum).
_AMOUNTS_REFUSED = (_AMOUNTS_OFF, "amount ", "milestone ")


def _as_thousands(text: str) -> list[float] | None:
    """The amounts in ``text`` with each ``1,500`` read as one number written with thousands separators (commas,
    semicolons and spaces separate the rest, a ``$`` is dropped, as the page reads them); None when a part is not
    a number."""
    joined = _THOUSANDS.sub(lambda m: m.group().replace(",", ""), text.replace("$", ""))
    try:
        return [float(part) for part in re.split(r"[;,\s]+", joined.strip()) if part]
    except ValueError:
        return None


def amounts_error(error: UserError, text: str, budget: float) -> UserError:
    """``error`` from ``make_plan`` with a hint when it refused the amounts typed as ``text`` and reading each
    ``1,500`` in it as a number with thousands separators makes them add up to ``budget`` (``1,500,1,500`` for
    3,000 reads as 1, 500, 1, 500); no hint when that reading does not add up either (``100,200`` for 1,000)."""
    found = _THOUSANDS.findall(text)
    if not found or not str(error).startswith(_AMOUNTS_REFUSED) or not _finite(budget):
        return error
    read = _as_thousands(text)
    if read is None or not all(_finite(v) for v in read) or sum(round(v * 100) for v in read) != round(budget * 100):
        return error
    return UserError(f"{error}; '{found[0]}' looks like {found[0].replace(',', '')} written with a thousands "
                     "separator, but every comma separates two amounts: write amounts without one "
                     f"({', '.join(f.replace(',', '') for f in found[:3])})")


def single_payment(budget: float, days: float) -> Plan:
    """The alternative every plan is compared with: the whole budget paid at the end."""
    return make_plan(budget, days, milestones=1)


def refine(plan: Plan) -> Plan:
    """Every milestone split in two at the middle of its time (amounts to the cent, extra cent first).

    Needs every milestone to be at least 2 cents.
    """
    parts = []
    for m in plan.milestones:
        if m.amount_cents < 2:
            raise UserError(f"milestone {m.seq} is too small to split")
        first = (m.amount_cents + 1) // 2
        middle = (m.start_day + m.due_day) / 2
        parts += [(first, m.start_day, middle), (m.amount_cents - first, middle, m.due_day)]
    return dataclasses.replace(plan, milestones=tuple(Milestone(i + 1, c, s, d) for i, (c, s, d) in enumerate(parts)),
                               shape="refined")


# --- evaluation -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What a plan earns under a risk and platform terms — every number exact.

    ``milestones``: seq, amount, start_day, due_day, expected_release_day, fee, prob_paid,
    expected_net. ``distribution``: one row per possible number of paid milestones with its
    gross, fees, net and probability. ``cash_curve``: the expected withdrawable net and secured
    gross after each day a value changes (a right-continuous step function).
    ``exposure_curve``: the vertices of the finished-but-unpaid work while the contract runs
    (``exposure``) and its expectation (``expected_exposure``, weighted by survival).
    """

    expected_gross: float
    expected_fees: float
    expected_net: float
    max_loss: float
    prob_paid_nothing: float
    prob_paid_in_full: float
    expected_days_to_cash: float | None
    days_to_first_cash: float | None  # None when nothing can be paid (a certain cancellation, nothing in part)
    milestones: pd.DataFrame = field(repr=False)
    distribution: pd.DataFrame = field(repr=False)
    cash_curve: pd.DataFrame = field(repr=False)
    exposure_curve: pd.DataFrame = field(repr=False)

    def summary_json(self) -> dict:
        return {
            "expected_net": round(self.expected_net, 6), "max_loss": self.max_loss,
            "prob_paid_nothing": round(self.prob_paid_nothing, 10),
            "expected_days_to_cash": None if self.expected_days_to_cash is None else round(self.expected_days_to_cash, 6),
            "expected_gross": round(self.expected_gross, 6), "expected_fees": round(self.expected_fees, 6),
            "prob_paid_in_full": round(self.prob_paid_in_full, 10),
            "days_to_first_cash": None if self.days_to_first_cash is None else round(self.days_to_first_cash, 6),
            "distribution": [
                {"paid_milestones": int(r.paid_milestones), "gross": float(r.gross), "net": round(float(r.net), 2),
                 "probability": round(float(r.probability), 10), **({"part_paid": True} if r.part_paid else {})}
                for r in self.distribution.itertuples()
            ],
        }


def milestone_fees(plan: Plan, terms: PlatformPreset, billed_before: float = 0.0) -> np.ndarray:
    """The fee on each milestone when paid; milestones are paid in order, so the sliding fee's
    lifetime billing before milestone *i* is ``billed_before`` plus the earlier milestones."""
    if not _finite(billed_before) or not 0 <= billed_before <= MAX_BUDGET:
        raise UserError(f"billed before must be between 0 and {MAX_BUDGET:,.0f}, got {billed_before:g}")
    amounts = np.array(plan.amounts)
    before = billed_before + np.concatenate([[0.0], np.cumsum(amounts)[:-1]])
    return np.array([terms.fee(a, b) for a, b in zip(amounts, before)])


def evaluate(plan: Plan, terms: PlatformPreset, risk: Risk, billed_before: float = 0.0) -> Outcome:
    """Expected earnings, exposure, timing and the outcome distribution of ``plan`` (exact)."""
    amounts = np.array(plan.amounts)
    fees = milestone_fees(plan, terms, billed_before)
    net = amounts - fees
    due = np.array([m.due_day for m in plan.milestones])
    start = np.array([m.start_day for m in plan.milestones])
    release = due + terms.review_days + terms.hold_days
    secured = secured_days(plan, terms)
    paid = risk.survival(secured, plan.days)  # P(milestone i is paid) = P(T > secured_i)
    n = len(amounts)

    # A single payment cancelled before it is paid may still bring part of the budget (what the history's
    # cancelled single payments received, when calibrated; nothing by assumption). Counted on its release day.
    part_prob = (1.0 - float(paid[0])) * risk.cancelled_paid_any if n == 1 and risk.cancelled_paid_share > 0 else 0.0
    part = round(plan.budget * risk.cancelled_paid_share / risk.cancelled_paid_any, 2) if part_prob > 0 else 0.0
    part_fee = terms.fee(part, billed_before) if part_prob > 0 else 0.0
    expected_gross = float(amounts @ paid) + part * part_prob
    expected_fees = float(fees @ paid) + part_fee * part_prob
    weight = amounts * paid + part * part_prob
    days_to_cash = float(weight @ release / weight.sum()) if weight.sum() > 0 else None

    # P(exactly k paid) = S(due_k) - S(due_{k+1}), with S(due_0) = 1 and S(due_{n+1}) = 0.
    reach = np.concatenate([[1.0], paid, [0.0]])
    distribution = pd.DataFrame({
        "paid_milestones": np.arange(n + 1),
        "gross": np.concatenate([[0.0], np.cumsum(plan_cents_array(plan)) / 100]),
        "fees": np.concatenate([[0.0], np.cumsum(fees)]),
        "probability": np.clip(reach[:-1] - reach[1:], 0.0, 1.0),
        "part_paid": False,
    })
    if part_prob > 0:  # cancelled, and paid part of the budget: a row of its own between nothing and all
        distribution.loc[0, "probability"] -= part_prob
        distribution = pd.concat([distribution.iloc[:1], pd.DataFrame({
            "paid_milestones": [0], "gross": [part], "fees": [part_fee], "probability": [part_prob], "part_paid": [True],
        }), distribution.iloc[1:]], ignore_index=True)
    distribution["net"] = distribution["gross"] - distribution["fees"]

    milestones = plan.to_frame()
    milestones["expected_release_day"] = release
    milestones["fee"] = fees
    milestones["prob_paid"] = paid
    milestones["expected_net"] = net * paid + (part - part_fee) * part_prob

    return Outcome(
        expected_gross=expected_gross, expected_fees=expected_fees, expected_net=expected_gross - expected_fees,
        max_loss=max_unpaid(plan, terms),
        prob_paid_nothing=float(1.0 - paid[0]) - part_prob, prob_paid_in_full=float(paid[-1]),
        expected_days_to_cash=days_to_cash,
        days_to_first_cash=float(release[0]) if paid[0] > 0 or part_prob > 0 else None,
        milestones=milestones, distribution=distribution,
        cash_curve=_cash_curve(secured, release, amounts * paid + part * part_prob, net * paid + (part - part_fee) * part_prob),
        exposure_curve=_exposure_curve(plan, risk, start, due, secured),
    )


def plan_cents_array(plan: Plan) -> np.ndarray:
    return np.array([m.amount_cents for m in plan.milestones], dtype=np.int64)


def _cash_curve(secured: np.ndarray, release: np.ndarray, expected_gross: np.ndarray, expected_net: np.ndarray) -> pd.DataFrame:
    """Right-continuous steps: expected secured gross (at hand-in, or at payment without escrow) and
    withdrawable net (at release). Sorted sums, not a matrix of days by milestones: memory grows with the count."""
    day = np.unique(np.concatenate([[0.0], secured, release]))

    def by_day(when: np.ndarray, amount: np.ndarray) -> np.ndarray:
        """The sum of ``amount`` over the milestones with ``when <= day``, on each day."""
        order = np.argsort(when, kind="stable")
        total = np.concatenate([[0.0], np.cumsum(amount[order])])
        return total[np.searchsorted(when[order], day, side="right")]

    return pd.DataFrame({"day": day, "expected_secured_gross": by_day(secured, expected_gross),
                         "expected_cash": by_day(release, expected_net)})


def protects_handins(terms: PlatformPreset) -> bool:
    """Whether a handed-in milestone is as good as paid: the platform holds the client's money (escrow), or the
    client pays on the hand-in day (no review time). Without either, handed-in work stays at stake until the
    client pays it, ``review_days`` later."""
    return bool(terms.escrow) or terms.review_days <= 0


def secured_days(plan: Plan, terms: PlatformPreset) -> np.ndarray:
    """The day each milestone's money is safe from a cancellation: its hand-in (due day) under escrow, else the
    day the client pays it (due day + review days): a client who cancels before paying pays nothing."""
    due = np.array([m.due_day for m in plan.milestones], dtype=float)
    return due if protects_handins(terms) else due + terms.review_days


def _unpaid_work(plan: Plan, secured: np.ndarray, day: np.ndarray, *, before: bool) -> np.ndarray:
    """Finished-but-unpaid work (gross) on each of ``day``: just before it (``before``) or at it.

    Work on the milestone in progress counts in proportion to the time worked on it; a handed-in milestone
    counts until ``secured`` (its payment). Due and secured days are in order, so sorted searches and cumulative
    sums give it in O(n log n) with no matrix of days by milestones.
    """
    cents = plan_cents_array(plan)
    start = np.array([m.start_day for m in plan.milestones], dtype=float)
    due = np.array([m.due_day for m in plan.milestones], dtype=float)
    day = np.asarray(day, dtype=float)
    side = "left" if before else "right"
    total = np.concatenate([[0], np.cumsum(cents)])
    # handed in (due < day, or <= at it) and not yet secured (secured >= day just before it, > at it)
    handed = total[np.searchsorted(due, day, side)] - total[np.searchsorted(secured, day, side)]
    # at most one milestone is being worked on: the first still to be handed in, if its work has begun
    j = np.searchsorted(due, day, side)
    inside = j < len(cents)
    jj = np.where(inside, j, 0)
    length = due[jj] - start[jj]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(length > 0, np.clip((day - start[jj]) / length, 0.0, 1.0), 0.0)
    working = np.where(inside & (start[jj] < day), cents[jj] * share, 0.0)
    return (handed + working) / 100


def max_unpaid(plan: Plan, terms: PlatformPreset) -> float:
    """``max_loss``: the most finished-but-unpaid work at any moment (gross). Under escrow it is the largest
    milestone (just before its hand-in); without escrow and with a payment delay, handed-in milestones stay
    unpaid until the client pays them, and add to the work in progress."""
    if protects_handins(terms):
        return float(plan_cents_array(plan).max()) / 100  # exposure peaks just before each hand-in at its amount
    secured = secured_days(plan, terms)
    due = np.array([m.due_day for m in plan.milestones], dtype=float)
    # The unpaid work grows while work goes on and falls only at a payment: its peaks are just before a
    # hand-in or a payment.
    # Not to the cent: a third of a cent over the limit is over it (1000 in 6 with 2 wait days peaks at 200.004);
    # to 6 places, so that float noise (34.00000000000001) is not.
    return round(float(_unpaid_work(plan, secured, np.concatenate([due, secured]), before=True).max()), 6)


def _exposure_curve(plan: Plan, risk: Risk, start: np.ndarray, due: np.ndarray, secured: np.ndarray) -> pd.DataFrame:
    """Vertices of the finished-but-unpaid work: rising linearly over each milestone, falling when a milestone is
    secured (at its hand-in under escrow, else at its payment); two rows on each such day, just before and at it."""
    if np.array_equal(secured, due):  # secured at hand-in: each milestone's own rise and fall
        amounts = plan_cents_array(plan) / 100
        day = np.concatenate([start, due, due])
        exposure = np.concatenate([np.zeros(len(start)), amounts, np.zeros(len(due))])
        # On a shared day: just before a hand-in, at it, then the next milestone's start.
        order = np.lexsort((np.concatenate([np.full(len(start), 2), np.zeros(len(due)), np.ones(len(due))]), day))
        frame = pd.DataFrame({"day": day[order], "exposure": exposure[order]})
        frame["expected_exposure"] = frame["exposure"] * risk.survival(frame["day"].to_numpy(), plan.days)
        return frame.reset_index(drop=True)
    day = np.unique(np.concatenate([start, due, secured]))
    before = _unpaid_work(plan, secured, day, before=True)
    at = _unpaid_work(plan, secured, day, before=False)
    frame = pd.DataFrame({"day": np.repeat(day, 2), "exposure": np.column_stack([before, at]).ravel()})
    frame["expected_exposure"] = frame["exposure"] * risk.survival(frame["day"].to_numpy(), plan.days)
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class Comparison:
    """A plan and the single payment side by side, under the same platform terms."""

    plan: Plan
    plan_outcome: Outcome
    single: Plan
    single_outcome: Outcome
    terms: PlatformPreset
    plan_risk: Risk
    single_risk: Risk
    billed_before: float = 0.0

    def to_json(self) -> dict:
        """The document SPEC.md promises for ``split --json`` (and more)."""
        t = self.terms
        # Under the sliding fee the rate depends on what was billed with the client before: the share of
        # this budget the fee takes (20 % only while the first 500.00 are billed).
        fee_rate = round(t.fee(self.plan.budget, self.billed_before) / self.plan.budget, 6) if t.sliding else t.fee_rate
        return {
            "budget": self.plan.budget, "days": self.plan.days, "fee_rate": fee_rate,
            "platform": {"key": t.key, "label": t.label, "fee_rate": t.fee_rate, "min_fee": t.min_fee,
                         "sliding_fee": t.sliding, "review_days": t.review_days, "hold_days": t.hold_days,
                         "min_milestone": t.min_milestone, "billed_before": self.billed_before,
                         "escrow": t.escrow, "on_cancel": t.on_cancel},
            "shape": self.plan.shape, "wait_days": self.plan.wait_days,
            "milestones": [
                {"seq": int(r.seq), "amount": float(r.amount), "start_day": round(float(r.start_day), 6),
                 "due_day": round(float(r.due_day), 6), "expected_release_day": round(float(r.expected_release_day), 6),
                 "fee": round(float(r.fee), 2), "prob_paid": round(float(r.prob_paid), 10)}
                for r in self.plan_outcome.milestones.itertuples()
            ],
            "plan": self.plan_outcome.summary_json(),
            "single_payment": {**self.single_outcome.summary_json(), "if_cancelled": self.single_risk.if_cancelled_json()},
            "risk": {"plan": self.plan_risk.to_json(), "single_payment": self.single_risk.to_json()},
            "gross_before_fees": "max_loss is gross (before fees); expected_net is after platform fees",
        }


def compare(plan: Plan, terms: PlatformPreset, risk: Risk, single_risk: Risk | None = None,
            billed_before: float = 0.0) -> Comparison:
    """Evaluate ``plan`` and the single payment of the same budget over the same working days.

    ``single_risk`` lets the single payment carry its own risk (e.g. calibrated on single-payment
    contracts); by default both face ``risk``.
    """
    single_risk = single_risk or risk
    single = single_payment(plan.budget, plan.days)
    return Comparison(plan, evaluate(plan, terms, risk, billed_before), single,
                      evaluate(single, terms, single_risk, billed_before), terms, risk, single_risk, billed_before)


# --- recommendation -------------------------------------------------------------------------

@dataclass(frozen=True)
class Recommendation:
    """The smallest number of milestones that keeps ``max_loss`` within ``max_loss_share`` of the budget.

    ``milestones`` is None when no plan allowed by the platform minimum gets there (``reason``
    says why). ``table`` compares the candidate plans: milestones, smallest_amount, max_loss,
    max_loss_share, expected_net, fees_if_complete, prob_paid_nothing, expected_days_to_cash,
    review_cycles, finish_day, finish_day_waiting_for_approval.
    """

    milestones: int | None
    max_loss_share: float
    max_allowed: int
    review_days_per_milestone: float
    wait_days_per_milestone: float
    reason: str
    table: pd.DataFrame = field(repr=False)
    #: What a minimum fee per payment costs the recommended plan (part of ``reason`` too), else None.
    fee_note: str | None = None

    def to_json(self) -> dict:
        return {
            "milestones": self.milestones, "max_loss_share": self.max_loss_share, "max_allowed": self.max_allowed,
            "review_days_per_milestone": self.review_days_per_milestone,
            "wait_days_per_milestone": self.wait_days_per_milestone, "reason": self.reason, "fee_note": self.fee_note,
            "table": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                      for row in self.table.round(6).to_dict("records")],
        }


def _largest_share(n: int, shape: str) -> float:
    """The largest milestone's ideal share of the budget (before rounding to cents)."""
    weights = split_weights(n, shape)
    return float(weights.max() / weights.sum())


def max_milestones_allowed(budget: float, terms: PlatformPreset, shape: str = "equal",
                           cap: int = MAX_RECOMMENDED_MILESTONES) -> int:
    """The largest number of milestones (up to ``cap``) whose smallest amount still meets the
    platform minimum; 0 when even a single payment is below it."""
    cents = to_cents(budget)
    min_cents = max(1, round(terms.min_milestone * 100))
    top = min(cents // min_cents, cap)
    if shape == "equal" or top <= 1:
        return top  # an equal split's smallest amount is floor(cents / n): at least the minimum iff n <= cents / minimum
    # The smallest uneven milestone is ideally (2 - FRONT_LOAD) / n of the budget; rounding moves it by a cent.
    n = max(1, min(top, int(cents * (2 - FRONT_LOAD) // min_cents)))
    def smallest(count: int) -> int:
        return int(_largest_remainder(cents, split_weights(count, shape)).min())

    while n > 1 and smallest(n) < min_cents:
        n -= 1
    while n < top and smallest(n + 1) >= min_cents:
        n += 1
    return n


def smallest_safe_count(budget_cents: int, limit_share: float, allowed: int, shape: str = "equal") -> int | None:
    """The smallest n <= ``allowed`` whose largest milestone is at most ``limit_share`` of the budget."""
    limit = limit_share * budget_cents + 1e-6
    if budget_cents <= limit:
        return 1
    # The largest milestone is at least floor(factor × budget / n) cents, factor 1 (equal) or
    # FRONT_LOAD (uneven), so no n at or below factor × budget / (limit + 1) can qualify.
    factor = 1.0 if shape == "equal" else FRONT_LOAD
    n = max(1, int(math.floor(factor * budget_cents / (limit + 1))))
    while n <= allowed:
        if max(plan_cents(budget_cents, n, shape)) <= limit:
            return n
        n += 1
    return None


def recommend(budget: float, days: float, terms: PlatformPreset, risk: Risk, *,
              max_loss_share: float = DEFAULT_MAX_LOSS_SHARE, shape: str = "equal", single_risk: Risk | None = None,
              wait_days: float = 0.0, billed_before: float = 0.0) -> Recommendation:
    """The smallest number of milestones with ``max_loss <= max_loss_share × budget``, within the
    platform minimum, and what each extra milestone costs: one more client review of up to
    ``terms.review_days`` (added to the finish if you wait for approval before starting the next
    one), ``wait_days`` of pause if you plan one, and — with a minimum fee — more fees."""
    budget_cents = _check_budget_days(budget, days)
    if not _finite(max_loss_share) or not 0.0 < max_loss_share <= 1.0:
        raise UserError(f"the max-loss share must be above 0 and at most 1, got {max_loss_share:g}")
    allowed = max_milestones_allowed(budget, terms, shape)
    if allowed < 1:
        raise UserError(f"the budget {budget_cents / 100:,.2f} is below the {terms.name} minimum milestone of {terms.min_milestone:,.2f}")
    chosen = smallest_safe_count(budget_cents, max_loss_share, allowed, shape)

    def stake_of(n: int) -> float:
        return max_unpaid(make_plan(budget, days, milestones=n, shape=shape, wait_days=wait_days, terms=terms), terms)

    unpaid_note = ""
    if not protects_handins(terms):
        # Handed-in work stays unpaid for the review days: the largest milestone is only a lower bound, so no
        # smaller count can qualify, and a larger one must be checked with its handed-in work counted.
        unpaid_note = (f" (with no escrow, handed-in work stays unpaid until the client pays it "
                       f"{terms.review_days:g} days later)")
        limit = max_loss_share * budget_cents / 100 + 1e-8
        first = chosen
        chosen = None
        if first is not None:
            chosen = next((n for n in range(first, allowed + 1) if stake_of(n) <= limit), None)
    stake = stake_of(chosen or allowed)  # under escrow the largest milestone (``max_unpaid``)
    if chosen is None:
        why = ("the most the splitter considers" if allowed == MAX_RECOMMENDED_MILESTONES
               else f"the most the {terms.min_milestone:,.2f} minimum milestone allows")
        reason = (f"even {plural(allowed, 'milestone')} ({why}) leave {stake:,.2f} at stake{unpaid_note}, "
                  f"more than {max_loss_share:.0%} of the budget")
    else:
        reason = (f"{plural(chosen, 'milestone')} keep at most {stake:,.2f} of finished work unpaid "
                  f"(limit {max_loss_share:.0%} of {budget_cents / 100:,.2f})")
    shown = min(allowed, (chosen or allowed) + 2, MAX_TABLE_ROWS)
    candidates = sorted(set(range(1, shown + 1)) | {chosen or allowed})
    rows = []
    for n in candidates:
        plan = make_plan(budget, days, milestones=n, shape=shape, wait_days=wait_days, terms=terms)
        outcome = evaluate(plan, terms, risk if n > 1 else (single_risk or risk), billed_before)
        rows.append({
            "milestones": n, "smallest_amount": min(plan.amounts), "max_loss": outcome.max_loss,
            "max_loss_share": outcome.max_loss / plan.budget, "expected_net": outcome.expected_net,
            "fees_if_complete": float(milestone_fees(plan, terms, billed_before).sum()),
            "prob_paid_nothing": outcome.prob_paid_nothing, "expected_days_to_cash": outcome.expected_days_to_cash,
            "review_cycles": n, "finish_day": plan.finish_day,
            "finish_day_waiting_for_approval": float(days) + (n - 1) * (terms.review_days + wait_days),
        })
    table = pd.DataFrame(rows)
    table["expected_days_to_cash"] = table["expected_days_to_cash"].astype(float)
    if (table["prob_paid_nothing"] >= 1.0).all():  # a certain cancellation at once: no plan is safer than another
        return Recommendation(None, float(max_loss_share), allowed, float(terms.review_days), float(wait_days),
                              "none: every plan pays nothing under this risk (the client cancels before the first "
                              "hand-in), so no number of milestones protects you", table)
    several = table[table["milestones"] > 1]
    if chosen != 1 and not several.empty and (several["prob_paid_nothing"] >= 1.0).all():
        # Every plan of milestones surely pays nothing, the single payment something (its own lower risk, or what
        # cancelled single payments received): recommend no plan rather than one sure to pay nothing.
        single = table.iloc[0]
        how = (", what your cancelled single payments still received" if (single_risk or risk).cancel_prob >= 1.0
               else " under its own risk")
        return Recommendation(None, float(max_loss_share), allowed, float(terms.review_days), float(wait_days),
                              "none: every plan of milestones pays nothing under this risk (the client cancels before "
                              "the first hand-in), so no number of milestones protects you; only the single payment "
                              f"brings anything (expected {single['expected_net']:,.2f} after fees{how}), and it leaves "
                              f"{single['max_loss']:,.2f} at stake, more than {max_loss_share:.0%} of the budget", table)
    fees = table.set_index("milestones")["fees_if_complete"]
    fee_note = None
    # A minimum fee per milestone (not the cents each milestone's fee is rounded to)
    if chosen is not None and chosen > 1 and terms.min_fee > 0 and fees[chosen] > fees[1] + 0.005:
        fee_note = (f"the {terms.min_fee:,.2f} minimum fee makes its fees {fees[chosen]:,.2f} if all is paid, "
                    f"against {fees[1]:,.2f} for one payment")
        reason += f"; {fee_note}"
    return Recommendation(chosen, float(max_loss_share), allowed, float(terms.review_days), float(wait_days), reason,
                          table, fee_note)


#: Fees above this share of the budget are worth a warning: they take most of the plan's money.
MOST_OF_THE_MONEY = 0.5


def fee_warning(c: Comparison) -> str | None:
    """Said when the platform's fees would take most of the plan's money if every milestone is paid (a minimum
    fee on small milestones: Freelancer.com's $5 takes all of a $3 milestone), else None."""
    fees = c.plan_outcome.milestones["fee"].to_numpy(float)
    nets = c.plan_outcome.milestones["amount"].to_numpy(float) - fees
    total, budget = float(fees.sum()), c.plan.budget
    if total <= MOST_OF_THE_MONEY * budget:
        return None
    text = f"fees take {total:,.2f} of the {budget:,.2f} if every milestone is paid ({total / budget:.0%})"
    if c.terms.min_fee:
        single = float(c.single_outcome.milestones["fee"].sum())
        text += (f": {c.terms.name}'s minimum fee of {c.terms.min_fee:,.2f} a payment (all of a smaller one), against {single:,.2f} "
                 "for one payment; fewer, larger milestones keep more")
    nothing = int((nets <= 0.005).sum())
    if nothing:
        text += (f"; {'every milestone leaves' if nothing == len(nets) else f'{nothing} of the milestones leave'} "
                 "you nothing after the fee")
    return text


# --- calibration from the workspace ---------------------------------------------------------

@dataclass(frozen=True)
class Calibration:
    """A risk estimated from comparable contracts of the workspace, with the evidence it rests on.

    ``survival`` is the Kaplan-Meier curve over the fraction of planned duration (columns
    fraction, survival, se, at_risk, events). ``fallback`` is True when there was too little
    history and ``risk`` is the stated default.
    """

    risk: Risk
    structure: str
    contracts: int
    finished: int
    cancelled: int
    excluded: int
    budget_range: tuple[float, float] | None
    fallback: bool
    message: str
    survival: pd.DataFrame = field(repr=False)
    #: The currency whose contracts were compared (None: the workspace has no contracts).
    currency: str | None = None

    def to_json(self) -> dict:
        return {
            "structure": self.structure, "currency": self.currency, "contracts": self.contracts, "finished": self.finished,
            "cancelled": self.cancelled, "excluded": self.excluded,
            "budget_range": list(self.budget_range) if self.budget_range else None,
            "fallback": self.fallback, "message": self.message, "risk": self.risk.to_json(),
        }


def comparable_risks(plan: Calibration, single: Calibration) -> tuple[Risk, Risk]:
    """The risks the plan and the single payment are compared under.

    Each side's own estimate while both have enough history; when either falls back to the
    stated default, both take that default: a fitted risk on one side against an assumed one on
    the other would compare assumptions, not payment structures.
    """
    if plan.fallback or single.fallback:
        default = plan.risk if plan.fallback else single.risk
        short = {"milestones": "the plan's", "single": "the single payment's"}[(plan if plan.fallback else single).structure]

        def assumed(side: Calibration) -> Risk:
            """The default on ``side``, with its own evidence and why it is assumed there."""
            if side.fallback:  # its own counts: ``default`` may be the other side's
                return dataclasses.replace(default, contracts=side.risk.contracts, cancelled=side.risk.cancelled,
                                           note=side.risk.note)
            return dataclasses.replace(
                default, source="default", contracts=side.risk.contracts, cancelled=side.risk.cancelled,
                cancel_prob_ci=None,
                note=(f"the default too ({default.cancel_prob:.0%} cancel before the end, {default.hazard_label} "
                      f"hazard), as {short} side has too little history: a risk fitted here against one assumed "
                      f"there would compare assumptions, not payment structures (this side alone: {side.risk.note})"))

        return assumed(plan), assumed(single)
    return plan.risk, single.risk

def history_contradiction(cal: Calibration, used: Risk) -> str | None:
    """Said when the figures run on the stated default (``used.source == "default"``) although this side's own
    history plainly contradicts it, else None.

    "Plainly": the default lies outside the 95 % interval of the share of this side's finished comparable
    contracts that were cancelled — the Kaplan-Meier interval when the side was fitted (the other side had too
    little history), else the exact (Clopper-Pearson, statsmodels) binomial interval of its few contracts. 40
    milestone contracts all cancelled are not a 10 % risk, even when 40 cannot be compared with no single-payment
    contract at all.
    """
    from statsmodels.stats.proportion import proportion_confint

    if used.source != "default" or cal.finished <= 0:
        return None
    if not cal.fallback and cal.risk.cancel_prob_ci is not None:
        rate, (low, high) = cal.risk.cancel_prob, cal.risk.cancel_prob_ci
        # Not cancelled / finished: the fitted share, running contracts counted until the as-of date.
        estimate = f"an estimated {rate:.1%} cancel before the end"
        other = "single-payment" if cal.structure == "milestones" else "milestone"
        why = f"the {other} side has too little history to compare with"
    else:
        rate = cal.cancelled / cal.finished
        estimate = f"{rate:.1%}"
        low, high = (float(v) for v in proportion_confint(cal.cancelled, cal.finished, alpha=0.05, method="beta"))
        why = f"{cal.finished:,} are too few to estimate from (need {MIN_CALIBRATION_CONTRACTS})"
    if low <= used.cancel_prob <= high:
        return None
    noun = f"finished {STRUCTURE_WORDS[cal.structure]} contract"
    return (f"your history contradicts the assumed {used.cancel_prob:.0%} risk: {cal.cancelled:,} of your "
            f"{plural(cal.finished, noun)} were cancelled or disputed ({estimate}, 95 % CI {low:.1%}–{high:.1%}), "
            f"but the figures assume {used.cancel_prob:.0%} because {why}")


def contradicted_sides(plan: Calibration, single: Calibration, plan_risk: Risk, single_risk: Risk
                       ) -> list[tuple[str, Calibration]]:
    """``history_contradiction`` for each side (once when both sides are one calibration), with its calibration."""
    sides = [(plan, plan_risk)] + ([] if single is plan else [(single, single_risk)])
    return [(w, cal) for cal, risk in sides if (w := history_contradiction(cal, risk))]


def history_warnings(plan: Calibration, single: Calibration, plan_risk: Risk, single_risk: Risk) -> list[str]:
    """The warnings of ``contradicted_sides``."""
    return [w for w, _ in contradicted_sides(plan, single, plan_risk, single_risk)]


def observed_not_caused(plan_risk: Risk, single_risk: Risk) -> str | None:
    """The caveat owed when the two sides carry risks measured on different clients, else None.

    A calibrated plan takes the risk of past milestone contracts and the single payment that of
    past single-payment ones: a difference between them is what those clients did, not proof
    that splitting the next contract will change what its client does.
    """
    if plan_risk.source != "calibrated" or single_risk.source != "calibrated" or plan_risk == single_risk:
        return None
    return ("the two risks are what your past milestone and single-payment clients did; clients who agree to "
            "milestones may differ from those who pay once, so choosing milestones need not by itself bring "
            "the plan's risk")


#: Hand-ins needed before the history's release time is offered in place of the platform's rule.
MIN_REVIEW_HANDINS = SMALL_SAMPLE_FINISHED


@dataclass(frozen=True)
class ReviewHistory:
    """How long the user's clients on one platform took from a hand-in to the payment.

    From every paid fixed-price milestone with both dates (``submission_to_payment`` of the
    timing analysis). ``median_days`` is None when fewer than ``MIN_REVIEW_HANDINS`` were
    measured: then only the count is said, and the platform's rule stays the splitter's review time.
    """

    platform: str
    handins: int
    median_days: float | None
    p25_days: float | None
    p75_days: float | None
    message: str

    def to_json(self) -> dict:
        return {"platform": self.platform, "handins": self.handins, "median_days": self.median_days,
                "p25_days": self.p25_days, "p75_days": self.p75_days, "message": self.message}


@uses_prepared
def review_history(con: duckdb.DuckDBPyConnection, platform: str = DEFAULT_PLATFORM, *,
                   min_handins: int = MIN_REVIEW_HANDINS) -> ReviewHistory:
    """The workspace's days from hand-in to payment on ``platform`` (a preset key: the contracts of its
    ``platforms``), for the review time.

    A suggestion, never applied by itself: the splitter's review time stays the platform's
    longest unless the user sets it (``--review-days``), because a median says what usually
    happens, not how long money can be held.
    """
    from analysis.timing import measured_sql  # the timing page's definition of the interval

    preset = platform_terms(platform)
    sql, params = measured_sql(Filters(platform=preset.platforms), ("submission_to_payment",))
    n, median, p25, p75 = con.execute(
        f"""SELECT count(d), quantile_cont(d, 0.5), quantile_cont(d, 0.25), quantile_cont(d, 0.75)
            FROM ({sql}) WHERE structure IN ('milestones', 'single') AND d IS NOT NULL""", params).fetchone()
    if n < min_handins:
        found = f"only {n:,}" if n else "no"
        return ReviewHistory(preset.key, int(n), None, None, None,
                             f"{found} paid fixed-price hand-ins with both dates from {preset.clients} (need {min_handins}): "
                             "too few to say how long they take to pay")
    return ReviewHistory(preset.key, int(n), float(median), float(p25), float(p75),
                         f"{preset.clients} paid a fixed-price hand-in a median {median:g} days after it (the middle half "
                         f"within {p25:g}–{p75:g} days; {n:,} hand-ins)")


_CALIBRATION_SQL = """
WITH c AS (
    SELECT status, start_date, end_date, budget,
           date_diff('day', start_date, planned_end_date) AS planned_days,
           CASE WHEN status = 'active' THEN date_diff('day', start_date, CAST(? AS DATE))
                ELSE date_diff('day', start_date, end_date) END AS elapsed_days
    FROM contract_view
    WHERE status IS NOT NULL AND contract_type = 'fixed' AND structure = ?
      AND budget BETWEEN ? AND ? AND (CAST(? AS VARCHAR) IS NULL OR upper(currency) = upper(CAST(? AS VARCHAR)))
      -- an active contract that starts after the as-of date is not part of the history as of then
      AND NOT (status = 'active' AND start_date > CAST(? AS DATE))
)
SELECT
    planned_days IS NOT NULL AND planned_days > 0 AND start_date IS NOT NULL AND elapsed_days IS NOT NULL
        AND elapsed_days >= 0 AS usable,
    status IN ('cancelled', 'disputed') AS cancelled,
    status <> 'active' AS finished,
    -- a completed contract was never cancelled: it stays at risk at least to the planned end;
    -- one cancelled after its planned end (it ran late) lost its final payment all the same, so
    -- it counts as cancelled at the planned end, not as a contract that got through it
    CASE WHEN status = 'completed' THEN greatest(elapsed_days / planned_days, 1.0)
         WHEN status IN ('cancelled', 'disputed') THEN least(elapsed_days / planned_days, 1.0)
         ELSE elapsed_days / planned_days END AS fraction
FROM c
"""


@uses_prepared
def paid_when_cancelled(con: duckdb.DuckDBPyConnection, structure: str, low: float, high: float,
                        currency: str | None) -> tuple[int, int, float]:
    """Of the cancelled and disputed contracts calibration compares (same structure, budget band and currency, a
    planned end and an end date): how many, how many received nothing toward their budget, and the mean share of
    the budget they received (each capped at 0–1). "Received" is the report's paid toward the budget (refunds
    deducted, bonuses not), so the splitter and ``unpaid_on_cancellation`` read the same money."""
    from analysis.earnings import paid_toward_budget_table
    from analysis.filters import contracts_sql

    base, params = contracts_sql(Filters())
    n, nothing, share = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE coalesce(p.paid, 0) <= 0),
                   avg(least(greatest(coalesce(p.paid, 0) / c.budget, 0), 1))
            FROM ({base}) c LEFT JOIN {paid_toward_budget_table()} p ON p.cid = c.cid
            WHERE c.contract_type = 'fixed' AND c.structure = ? AND c.status IN ('cancelled', 'disputed')
              AND c.budget > 0 AND c.budget BETWEEN ? AND ?
              AND (CAST(? AS VARCHAR) IS NULL OR upper(c.currency) = upper(CAST(? AS VARCHAR)))
              AND date_diff('day', c.start_date, c.planned_end_date) > 0 AND c.end_date >= c.start_date""",
        [*params, structure, low, high, currency, currency]).fetchone()
    return int(n), int(nothing), float(share or 0.0)


def _history(con: duckdb.DuckDBPyConnection, structure: str, low: float, high: float, currency: str | None,
             as_of: dt.date) -> pd.DataFrame:
    return con.execute(_CALIBRATION_SQL, [as_of, structure, low, high, currency, currency, as_of]).df()


def survival_over_fraction(history: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier survival (statsmodels ``SurvfuncRight``) over the fraction of planned duration."""
    from statsmodels.duration.survfunc import SurvfuncRight

    sf = SurvfuncRight(history["fraction"].to_numpy(float), history["cancelled"].to_numpy(int))
    return pd.DataFrame({"fraction": sf.surv_times, "survival": sf.surv_prob, "se": sf.surv_prob_se,
                         "at_risk": sf.n_risk, "events": sf.n_events})


def _survival_at(curve: pd.DataFrame, fraction: float) -> tuple[float, float]:
    before = curve[curve["fraction"] <= fraction]
    if before.empty:
        return 1.0, 0.0
    row = before.iloc[-1]
    return float(row["survival"]), float(row["se"])


def fit_hazard_shape(curve: pd.DataFrame, survival_at_end: float) -> float | None:
    """The Weibull exponent ``k`` of ``S(u) = S(1) ** (u ** k)`` through the Kaplan-Meier points.

    ``log(-log S(u)) - log(-log S(1)) = k · log u`` is a line through the origin, fitted by least
    squares (statsmodels OLS) over the event times inside the planned duration. None when there
    are fewer than ``MIN_SHAPE_EVENTS`` usable points.
    """
    import statsmodels.api as sm

    if not 0.0 < survival_at_end < 1.0:
        return None
    pts = curve[(curve["events"] > 0) & (curve["fraction"] > 0) & (curve["fraction"] < 1) & (curve["survival"] < 1)
                & (curve["survival"] > 0)]
    if len(pts) < MIN_SHAPE_EVENTS:
        return None
    x = np.log(pts["fraction"].to_numpy(float))
    y = np.log(-np.log(pts["survival"].to_numpy(float))) - math.log(-math.log(survival_at_end))
    k = float(sm.OLS(y, x).fit().params[0])
    return float(np.clip(k, 0.2, 5.0)) if math.isfinite(k) and k > 0 else None


def _prob_ci(survival: float, se: float, at_risk: int) -> tuple[float, float]:
    """95 % interval for ``1 - S`` from Greenwood's standard error on the log(-log) scale; with
    no cancellations, or nothing but cancellations, the exact (Clopper-Pearson) binomial interval
    for 0 or ``at_risk`` events in ``at_risk``."""
    from statsmodels.stats.proportion import proportion_confint

    if survival >= 1.0 or se <= 0 and survival > 0.0:
        low, high = proportion_confint(0, max(at_risk, 1), alpha=0.05, method="beta")
        return 0.0, float(high)
    if survival <= 0.0:
        low, high = proportion_confint(max(at_risk, 1), max(at_risk, 1), alpha=0.05, method="beta")
        return float(low), 1.0
    scale = 1.959963984540054 * se / (survival * abs(math.log(survival)))
    lo_s, hi_s = survival ** math.exp(scale), survival ** math.exp(-scale)
    return float(1 - hi_s), float(1 - lo_s)


def _check_currencies(con: duckdb.DuckDBPyConnection, asked: Sequence[str]) -> None:
    """Refuses currencies of which the workspace has no contract, naming those it has (in the report's order):
    calibrating on none of its contracts would quietly give the default risk."""
    have = [str(c) for c in currency_counts(con, Filters())["currency"] if c is not None]
    if not {c.upper() for c in have} & set(asked):
        has = f"its currencies are {', '.join(have)}" if have else "it has no contracts yet"
        raise UserError(f"the workspace has no {' or '.join(asked)} contracts to calibrate from; {has}")


def calibrate(con: duckdb.DuckDBPyConnection, budget: float, structure: str = "milestones", *,
              currency: str | Sequence[str] | None = None, as_of: dt.date | None = None,
              min_contracts: int = MIN_CALIBRATION_CONTRACTS, budget_factor: float = SIMILAR_BUDGET_FACTOR,
              default: Risk | None = None) -> Calibration:
    """Estimate the cancellation risk for a ``structure`` contract of about ``budget`` from the workspace.

    Comparable contracts: fixed-price, same structure, budget within ``budget_factor`` of
    ``budget`` (widened to every budget when that leaves fewer than ``min_contracts`` finished
    contracts), known status. Time is the fraction of the planned duration; cancelled and
    disputed contracts are events at their end, completed ones survive at least to the planned
    end, active ones are censored at ``as_of`` (default today). Contracts without a planned end
    date cannot be placed and are counted as excluded. Too little history gives the stated
    ``default`` risk and says so. Budgets compare within one currency: ``currency``; of several,
    or of all when none is given, the one with the most fixed-price contracts (then the most
    contracts, then alphabetical), as the report picks its currency; currencies the workspace has no contract in
    are refused.
    """
    if structure not in ("milestones", "single"):
        raise UserError(f"calibration compares fixed-price contracts: structure must be milestones or single, got {structure!r}")
    cents = to_cents(budget)
    if cents <= 0:
        raise UserError(f"budget must be more than 0, got {budget:g}")
    as_of = as_of or dt.date.today()
    default = default or make_risk(DEFAULT_CANCEL_PROB, "constant", source="default")
    asked = [c.upper() for c in ([currency] if isinstance(currency, str) else currency or ())]
    if asked:
        _check_currencies(con, asked)
    if len(asked) != 1:
        # Budgets compare only within a currency: the report's (``filters.currency_counts``: most
        # fixed-price contracts, then most contracts, then by name), of those asked for or all.
        among = f"WHERE upper(currency) IN ({', '.join('?' for _ in asked)})" if asked else ""
        row = con.execute(f"""SELECT currency FROM contracts {among} GROUP BY currency
                              ORDER BY count(*) FILTER (WHERE contract_type = 'fixed') DESC, count(*) DESC, currency
                              LIMIT 1""", asked).fetchone()
        currency = row[0] if row else (asked[0] if asked else None)
    else:
        currency = asked[0]
    in_currency = f" {currency.upper()}" if currency else ""
    low, high = budget / budget_factor, budget * budget_factor
    history = _history(con, structure, low, high, currency, as_of)
    budget_range: tuple[float, float] | None = (round(low, 2), round(high, 2))
    widened = ""
    if int((history["usable"] & history["finished"]).sum()) < min_contracts:
        wide = _history(con, structure, 0.0, 1e18, currency, as_of)
        if int((wide["usable"] & wide["finished"]).sum()) > int((history["usable"] & history["finished"]).sum()):
            noun = STRUCTURE_WORDS[structure]
            widened = (f"fewer than {min_contracts} finished {noun} contracts with a budget between "
                       f"{low:,.2f} and {high:,.2f}{in_currency}, so every budget was used; ")
            history, budget_range = wide, None
    usable = history[history["usable"]]
    excluded = int(len(history) - len(usable))
    finished = int(usable["finished"].sum())
    cancelled = int(usable["cancelled"].sum())
    def what(n: int) -> str:
        """``milestone contracts of 400.00–1,600.00 USD`` (``contract`` for 1)."""
        return (STRUCTURE_WORDS[structure] + (" contract" if n == 1 else " contracts")
                + (f" of {budget_range[0]:,.2f}–{budget_range[1]:,.2f}{in_currency}" if budget_range
                   else f" in{in_currency}" if currency else ""))

    def fallback(why: str) -> Calibration:
        message = (f"{widened}{why}; too few to estimate the risk, so the default is assumed: "
                   f"{default.cancel_prob:.0%} cancel before the end, {default.hazard_label} hazard")
        risk = dataclasses.replace(default, source="default", note=message, contracts=len(usable), cancelled=cancelled)
        return Calibration(risk, structure, len(usable), finished, cancelled, excluded, budget_range, True, message,
                           pd.DataFrame(columns=["fraction", "survival", "se", "at_risk", "events"]), currency)

    if finished < min_contracts:
        from analysis.completions import DATES_FROM_TEMPLATE  # the import path's module: only when it is said

        missing = f" ({excluded} without usable dates: {DATES_FROM_TEMPLATE})" if excluded else ""
        found = (f"only {finished} finished {what(finished)} with a planned end date ({cancelled} cancelled; need {min_contracts})"
                 if finished else f"no finished {what(0)} with a planned end date (need {min_contracts})")
        return fallback(f"{found}{missing}")
    curve = survival_over_fraction(usable)
    followed_to_end = int((usable["fraction"] >= 1.0).sum())
    survival_end, se_end = _survival_at(curve, 1.0)
    if followed_to_end == 0 and survival_end > 0.0:
        return fallback(f"{'the 1' if len(usable) == 1 else f'none of the {len(usable)}'} {what(len(usable))} has {'not ' if len(usable) == 1 else ''}been followed to its planned end")
    # With every contract cancelled, the interval is the exact one for that many cancellations
    # in that many finished contracts.
    at_risk_end = followed_to_end if survival_end > 0.0 else finished
    k = fit_hazard_shape(curve, survival_end)
    shape_note = ""
    if k is None:
        k = 1.0
        shape_note = ("; every one was cancelled by its planned end, so the timing cannot be fitted and a constant "
                      "hazard is assumed" if survival_end <= 0.0 else
                      f"; fewer than {MIN_SHAPE_EVENTS} cancellation times inside the planned duration, so a constant "
                      f"hazard is assumed")
    prob = float(1.0 - survival_end)
    ci = _prob_ci(survival_end, se_end, at_risk_end)
    message = (f"{widened}estimated from {len(usable)} {what(len(usable))} ({finished} finished, {cancelled} cancelled or disputed"
               f"{f', {excluded} without usable dates left out' if excluded else ''}): "
               f"{prob:.1%} cancel before the end, late cancellations included (95 % CI {ci[0]:.1%}–{ci[1]:.1%}), "
               f"{hazard_label(k)} hazard{shape_note}")
    risk = Risk(prob, k, source="calibrated", note=message, contracts=len(usable), cancelled=cancelled, cancel_prob_ci=ci)
    if structure == "single":
        # A cancelled single payment was often paid part of the budget: measured on the same contracts, it goes
        # into the single payment's expected gross and P(paid nothing) instead of the assumption of nothing.
        wide = (0.0, 1e18) if budget_range is None else (low, high)
        n, nothing, share = paid_when_cancelled(con, "single", *wide, currency)
        if n and share > 0:
            note = (f"your {n:,} cancelled or disputed {what(n)} received {share:.1%} of the budget on "
                    f"average; {nothing:,} of them ({nothing / n:.1%}) received nothing: a cancelled single payment "
                    "counts that (on its release day) in its expected gross and chance of being paid nothing")
            risk = dataclasses.replace(risk, cancelled_paid_share=share, cancelled_paid_any=(n - nothing) / n,
                                       cancelled_paid_note=note)
    return Calibration(risk, structure, len(usable), finished, cancelled, excluded, budget_range, False, message, curve,
                       currency)
