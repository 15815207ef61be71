"""Builder state shared by every job: the seeded random source, counters, collected records and catalogues."""
from __future__ import annotations

import random
import unicodedata
from bisect import bisect
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from telco.models import (
    AccessNode,
    Area,
    Bill,
    BroadbandService,
    Cell,
    Customer,
    MobileLine,
    PaymentRequest,
    Phone,
    Promotion,
    Router,
)
from telco.sandbox.generator_profile import GeneratorProfile, load_plans, load_roaming_partners

# Multiplier coprime with 10**7: k -> (a*k + b) mod 10**7 is a bijection, so numbers never repeat yet look random.
_NUMBER_STRIDE = 3_000_017
_NUMBER_SPACE = 10**7


def _weighted(pairs: list[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    items, cum, total = [], [], 0.0
    for item, weight in pairs:
        total += weight
        items.append(item)
        cum.append(total)
    return items, cum


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum())


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


class BuilderBase:
    """Everything the jobs share; __init__ makes the first draw (the number offset), so it runs first."""

    def __init__(self, seed: int, customers: int, clock: datetime, profile: GeneratorProfile) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_customers = customers
        self.clock = clock
        self.today = clock.date()
        self.p = profile
        self.plans = load_plans(profile)
        self.roaming_partners = load_roaming_partners(profile)
        self.counters: dict[str, int] = {}
        self.areas: dict[str, Area] = {}
        self.cells: dict[str, Cell] = {}
        self.nodes: dict[str, AccessNode] = {}
        self.customers: dict[str, Customer] = {}
        self.lines: dict[str, MobileLine] = {}
        self.phones: dict[str, Phone] = {}
        self.broadband: dict[str, BroadbandService] = {}
        self.routers: dict[str, Router] = {}
        self.bills: dict[str, Bill] = {}
        self.promotions: dict[str, Promotion] = {}
        self.requests: dict[str, PaymentRequest] = {}
        self.population: dict[str, int] = {}
        self._open_node: dict[tuple[str, str], list[Any]] = {}
        self._numbers_issued = 0
        self._number_offset = self.rng.randrange(_NUMBER_SPACE)
        self._slugs: dict[str, str] = {}
        self._prepare_catalogues()

    # ---- ids, numbers ------------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        n = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = n
        return f"{prefix}-{n:05d}"

    def _number(self) -> str:
        k = self._numbers_issued
        self._numbers_issued += 1
        return f"+1555{(_NUMBER_STRIDE * k + self._number_offset) % _NUMBER_SPACE:07d}"

    def _slug(self, name: str) -> str:
        slug = self._slugs.get(name)
        if slug is None:
            slug = self._slugs[name] = _slug(name)
        return slug

    # ---- catalogues prepared once ------------------------------------------------------------------
    def _prepare_catalogues(self) -> None:
        p = self.p
        mobile = [(self.plans[i], w) for i, w in p.mobile_plan_weights.items()]
        self.mobile_any = _weighted(mobile)
        self.mobile_4g = _weighted([(plan, w) for plan, w in mobile if not plan.five_g])
        self.phone_models = _weighted([(m, m.weight) for m in p.phone_models])
        self.bb_weights = [(self.plans[i], w) for i, w in p.broadband_plan_weights.items()]
        self._bb_options: dict[str, tuple[list[Any], list[float]] | None] = {}
        dob_low, dob_high = date(1940, 1, 1).toordinal(), date(self.today.year - 18, 1, 1).toordinal()
        self.dob_low, self.dob_span = dob_low, dob_high - dob_low
        self.goodwill_amounts = [Decimal(f"{n}.00") for n in (5, 10, 15, 20, 25)]
        self.roaming_charges = [Decimal(v) for v in ("4.99", "9.98", "14.97", "24.95")]
        self.promo_amount = -self.p.promotion.monthly_discount
        # Billing periods, oldest first, ending with the month the clock is in.
        self.periods = [
            _add_months(self.today.year, self.today.month, k - p.billing.periods + 1) for k in range(p.billing.periods)
        ]
        self.period_labels = [f"{y:04d}-{m:02d}" for y, m in self.periods]
        # Cycle days later than today would put the current bill in the future.
        self.cycle_days = [d for d in p.billing.cycle_days if d <= self.today.day] or [1]
        self._schedules: dict[int, list[tuple[date, date]]] = {}

    def _schedule(self, cycle_day: int) -> list[tuple[date, date]]:
        """(issued_on, due_date) per period for one billing day."""
        sched = self._schedules.get(cycle_day)
        if sched is None:
            pay = timedelta(days=self.p.billing.days_to_pay)
            sched = [(date(y, m, cycle_day), date(y, m, cycle_day) + pay) for y, m in self.periods]
            self._schedules[cycle_day] = sched
        return sched

    def _broadband_options(self, area: Area):
        """Technologies sellable in an area, each with the plans that fit it; None when nothing fits."""
        if area.id in self._bb_options:
            return self._bb_options[area.id]
        choices = []
        for tech in ("fiber", "cable", "dsl"):
            if (tech == "fiber" and not area.fiber) or (tech == "cable" and not area.cable):
                continue
            fitting = [
                (plan, w)
                for plan, w in self.bb_weights
                if tech in plan.technologies and (tech != "dsl" or plan.download_mbps <= area.dsl_max_mbps)
            ]
            if fitting:
                choices.append(((tech, _weighted(fitting)), self.p.technology_weights[tech]))
        options = _weighted(choices) if choices else None
        self._bb_options[area.id] = options
        return options

    @staticmethod
    def _pick(rng: random.Random, table: tuple[list[Any], list[float]]) -> Any:
        items, cum = table
        return items[bisect(cum, rng.random() * cum[-1])]
