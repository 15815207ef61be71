"""One customer: identity, address, payment behaviour and methods, then their services, promotion and bills."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from telco.models import Area, PaymentMethod
from telco.sandbox.generator_parts.billing import BillBuilder
from telco.sandbox.generator_parts.records import _address, _customer, _method, _promotion
from telco.sandbox.generator_parts.services import ServiceBuilder


class CustomerBuilder(ServiceBuilder, BillBuilder):
    def _make_customer(self, index: int) -> None:
        rng, p, sh = self.rng, self.p, self.p.shares
        r = rng.random
        area: Area = self._pick(rng, self.area_table)
        self.population[area.id] += 1
        cid = f"C{100000 + index + 1}"
        first, last = rng.choice(p.first_names), rng.choice(p.last_names)

        bb_options = self._broadband_options(area)
        has_mobile = r() < sh.mobile or bb_options is None
        has_broadband = bb_options is not None and (not has_mobile or r() < sh.broadband_given_mobile)
        n_lines = (2 if r() < sh.second_line else 1) if has_mobile else 0

        # Payment behaviour decides bill statuses and whether lines are suspended, so it comes first.
        schedule = self._schedule(rng.choice(self.cycle_days))
        late = r() < sh.late_payer
        awaiting = not late and r() < sh.awaiting_payment
        autopay = not late and not awaiting and r() < sh.autopay_current_bill
        past_due = [k for k, (_, due) in enumerate(schedule) if due < self.today]
        overdue_k = past_due[-1] if late and past_due else None
        suspended_since = None
        if overdue_k is not None and n_lines and r() < sh.suspended_given_late:
            day = schedule[overdue_k][1] + timedelta(days=p.billing.suspend_after_days)
            if day <= self.today:
                suspended_since = datetime(day.year, day.month, day.day, 9, 0, tzinfo=timezone.utc)

        numbers = [self._number() for _ in range(n_lines)]
        methods = self._payment_methods()
        self.customers[cid] = _customer(
            id=cid,
            name=f"{first} {last}",
            date_of_birth=date.fromordinal(self.dob_low + int(r() * self.dob_span)),
            phone=numbers[0] if numbers else self._number(),
            email=f"{self._slug(first)}.{self._slug(last)}{index + 1}@{rng.choice(p.email_domains)}",
            address=_address(
                street=f"{rng.randint(1, 250)} {rng.choice(p.street_names)}",
                city=area.name,
                postcode=f"{area.postcode_prefix} {rng.randint(1, 9)}{chr(65 + rng.randrange(26))}{chr(65 + rng.randrange(26))}",
                area_id=area.id,
            ),
            status="active",
            payment_methods=methods,
            goodwill_credit_used_this_year=(
                rng.choice(self.goodwill_amounts) if r() < sh.goodwill_used else Decimal("0")
            ),
            segment="small_business" if r() < sh.small_business else "consumer",
        )

        services: list[tuple[str, str, Decimal]] = []
        extras: list[list[tuple[str, str, str, Decimal]]] = [[] for _ in self.periods]
        for number in numbers:
            self._make_line(cid, area, number, schedule, suspended_since, services, extras)
        if has_broadband:
            self._make_broadband(cid, area, bb_options, services)
        promoted = n_lines > 0 and has_broadband and r() < sh.promotion
        if promoted:
            promo = _promotion(
                id=self._id("PROMO"),
                customer_id=cid,
                description=p.promotion.description,
                monthly_discount=p.promotion.monthly_discount,
                starts=self.period_labels[0],
            )
            self.promotions[promo.id] = promo
        self._make_bills(cid, schedule, services, extras, promoted, overdue_k, awaiting, autopay, methods)

    def _payment_methods(self) -> list[PaymentMethod]:
        rng, year = self.rng, self.today.year
        last4 = f"{rng.randrange(10000):04d}"
        methods = [
            _method(
                id=self._id("PM"),
                kind="card",
                last4=last4,
                label=f"{rng.choice(self.p.card_labels)} ending {last4}",
                default=True,
                expires=f"{year + rng.randint(1, 4)}-{rng.randint(1, 12):02d}",
            )
        ]
        if rng.random() < self.p.shares.second_payment_method:
            last4 = f"{rng.randrange(10000):04d}"
            methods.append(
                _method(id=self._id("PM"), kind="bank_account", last4=last4, label=f"Checking ending {last4}",
                        default=False, expires=None)
            )
        return methods
