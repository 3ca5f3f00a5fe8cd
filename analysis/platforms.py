"""Platform rules from SPEC.md: fees and money timing, in one place.

The sample generator, fee derivation on import and the what-if splitter all read these
values, so a rule changes here and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: Upwork switched from the sliding fee to a flat 10 % on this date.
UPWORK_FLAT_FEE_FROM = dt.date(2023, 5, 3)
#: The sliding fee applied from June 2016 until the flat fee.
UPWORK_SLIDING_FEE_FROM = dt.date(2016, 6, 1)
#: Before the sliding fee, Upwork (like oDesk before it) took a flat 10 % from freelancers.
UPWORK_EARLY_RATE = 0.10
#: (upper bound of lifetime billing with the client, rate) for the sliding fee.
UPWORK_SLIDING_TIERS: tuple[tuple[float, float], ...] = ((500.0, 0.20), (10_000.0, 0.10), (float("inf"), 0.05))
UPWORK_FLAT_RATE = 0.10
UPWORK_REVIEW_DAYS = 14
UPWORK_SECURITY_HOLD_DAYS = 5
UPWORK_MIN_MILESTONE = 5.0
UPWORK_HOURLY_AVAILABLE_AFTER_WEEK_END_DAYS = 10

FREELANCER_RATE = 0.10
FREELANCER_MIN_FEE = 5.0
#: How contracts from Freelancer.com name their platform (the importer writes the first).
FREELANCER_PLATFORMS = ("freelancer", "freelancer.com")

FIVERR_SELLER_SHARE = 0.80
FIVERR_FEE_RATE = round(1 - FIVERR_SELLER_SHARE, 6)  # 0.2, not 0.19999999999999996 in the JSON
FIVERR_AUTO_COMPLETE_DAYS = 3
FIVERR_CLEARANCE_DAYS = 14


@dataclass(frozen=True)
class PlatformPreset:
    """Fee and timing rules of one platform, as the splitter and the generator use them."""

    key: str
    label: str
    fee_rate: float
    min_fee: float = 0.0
    review_days: float = 0.0
    hold_days: float = 0.0
    min_milestone: float = 0.01
    sliding: bool = False
    #: The contracts' ``platform`` values this preset's rules are for (lower case), and who those
    #: clients are in a sentence: the splitter reads their history under this preset.
    platforms: tuple[str, ...] = ()
    clients: str = ""
    #: Whether the client's money for a milestone is held by the platform before the work starts, and what
    #: becomes of handed-in work when the client cancels (the splitter assumes it is paid; this says on what).
    escrow: bool = False
    on_cancel: str = "with no escrow, handed-in work is paid only if the client pays for it"

    @property
    def name(self) -> str:
        """The platform in a sentence: ``Upwork``, not the key ``upwork`` or the whole label."""
        return self.label.split(" (")[0]

    def fee(self, amount: float, billed_before: float = 0.0) -> float:
        """Fee the freelancer pays on one payment of ``amount``."""
        if amount <= 0:
            return 0.0
        if self.sliding:
            return upwork_sliding_fee(amount, billed_before)
        return round(max(amount * self.fee_rate, min(self.min_fee, amount)), 2)


def upwork_sliding_fee(amount: float, billed_before: float) -> float:
    """Upwork's 2016–2023 fee on ``amount`` when ``billed_before`` was already billed with the client."""
    fee = 0.0
    lower = 0.0
    start, end = billed_before, billed_before + amount
    for upper, rate in UPWORK_SLIDING_TIERS:
        overlap = max(0.0, min(end, upper) - max(start, lower))
        fee += overlap * rate
        lower = upper
    return round(fee, 2)


UPWORK_ON_CANCEL = "on Upwork, funded milestones you handed in are paid from escrow"

PRESETS: dict[str, PlatformPreset] = {
    "upwork": PlatformPreset(
        "upwork", "Upwork (flat 10 %, since May 2023)", UPWORK_FLAT_RATE,
        review_days=UPWORK_REVIEW_DAYS, hold_days=UPWORK_SECURITY_HOLD_DAYS,
        min_milestone=UPWORK_MIN_MILESTONE, platforms=("upwork",), clients="your clients on Upwork",
        escrow=True, on_cancel=UPWORK_ON_CANCEL,
    ),
    "upwork-2016": PlatformPreset(
        "upwork-2016", "Upwork sliding fee (2016–2023)", 0.20,
        review_days=UPWORK_REVIEW_DAYS, hold_days=UPWORK_SECURITY_HOLD_DAYS,
        min_milestone=UPWORK_MIN_MILESTONE, sliding=True, platforms=("upwork",), clients="your clients on Upwork",
        escrow=True, on_cancel=UPWORK_ON_CANCEL,
    ),
    "freelancer": PlatformPreset(
        "freelancer", "Freelancer.com (10 % or $5)", FREELANCER_RATE, min_fee=FREELANCER_MIN_FEE,
        platforms=FREELANCER_PLATFORMS, clients="your clients on Freelancer.com", escrow=True,
        on_cancel="on Freelancer.com, the milestone payments the client created are held for you, but the client "
                  "releases them: handed-in work is paid when it does (or after a dispute)",
    ),
    "fiverr": PlatformPreset(
        "fiverr", "Fiverr (20 %)", FIVERR_FEE_RATE,
        review_days=FIVERR_AUTO_COMPLETE_DAYS, hold_days=FIVERR_CLEARANCE_DAYS,
        platforms=("fiverr",), clients="your clients on Fiverr", escrow=True,
        on_cancel="on Fiverr the buyer paid up front; a delivered milestone completes, and is yours, "
                  f"{FIVERR_AUTO_COMPLETE_DAYS} days after delivery unless the buyer asks for changes",
    ),
    "direct": PlatformPreset("direct", "Direct client (no platform fee)", 0.0, platforms=("direct",),
                             clients="your direct clients",
                             on_cancel="with a direct client there is no escrow: handed-in work is paid only if the "
                                       "client pays your invoice"),
}


def fee_sql(platform: str, paid_date: str, amount: str, billed_before: str, hourly: str = "false") -> str:
    """A DuckDB expression for the platform fee on one payment (used to fill empty fees).

    ``hourly``: whether the payment is of an hourly contract (Freelancer.com's $5 minimum is on
    fixed-price work only). All arguments are SQL expressions over trusted column names, never user text.
    """
    tiers = []
    lower = 0.0
    for upper, rate in UPWORK_SLIDING_TIERS:
        up = "1e18" if upper == float("inf") else repr(upper)
        tiers.append(
            f"greatest(0, least({billed_before} + {amount}, {up}) - greatest({billed_before}, {lower!r})) * {rate!r}"
        )
        lower = upper
    sliding = " + ".join(tiers)
    return f"""round(CASE
        WHEN {amount} IS NULL OR {amount} <= 0 THEN 0
        WHEN lower({platform}) = 'upwork' AND {paid_date} < DATE '{UPWORK_SLIDING_FEE_FROM.isoformat()}' THEN {amount} * {UPWORK_EARLY_RATE!r}
        WHEN lower({platform}) = 'upwork' AND {paid_date} < DATE '{UPWORK_FLAT_FEE_FROM.isoformat()}' THEN {sliding}
        WHEN lower({platform}) = 'upwork' THEN {amount} * {UPWORK_FLAT_RATE!r}
        WHEN lower({platform}) IN {FREELANCER_PLATFORMS!r} AND coalesce({hourly}, false) THEN {amount} * {FREELANCER_RATE!r}
        WHEN lower({platform}) IN {FREELANCER_PLATFORMS!r} THEN greatest({amount} * {FREELANCER_RATE!r}, least({FREELANCER_MIN_FEE!r}, {amount}))
        WHEN lower({platform}) = 'fiverr' THEN {amount} * {FIVERR_FEE_RATE!r}
        ELSE 0 END, 2)"""
