"""Bills for every billing period of a customer, and the payment link for a bill awaiting payment."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from telco.sandbox.generator_parts.base import BuilderBase
from telco.sandbox.generator_parts.records import _bill, _item, _request


class BillBuilder(BuilderBase):
    def _make_bills(self, cid, schedule, services, extras, promoted, overdue_k, awaiting, autopay, methods) -> None:
        last = len(schedule) - 1
        for k, (issued_on, due) in enumerate(schedule):
            items = [
                _item(id=self._id("LI"), description=desc, kind="plan", amount=price, service_id=sid, disputed=False)
                for sid, desc, price in services
            ]
            for sid, kind, desc, amount in extras[k]:
                items.append(_item(id=self._id("LI"), description=desc, kind=kind, amount=amount, service_id=sid,
                                   disputed=False))
            if promoted:
                items.append(_item(id=self._id("LI"), description=self.p.promotion.description, kind="promotion",
                                   amount=self.promo_amount, service_id=None, disputed=False))
            if due < self.today:
                status = "overdue" if k == overdue_k else "paid"
            elif k == last and awaiting:
                status = "awaiting_payment"
            else:
                status = "paid" if autopay and k == last else "issued"
            bill_id = self._id("B")
            self.bills[bill_id] = _bill(id=bill_id, customer_id=cid, period=self.period_labels[k], issued_on=issued_on,
                                        due_date=due, status=status, items=items)
            if status == "awaiting_payment":
                total = sum((i.amount for i in items), Decimal("0"))
                request = _request(
                    id=self._id("PAY"),
                    customer_id=cid,
                    bill_id=bill_id,
                    amount=total,
                    payment_method_id=methods[0].id,
                    status="sent",
                    created_at=self.clock - timedelta(minutes=self.rng.randint(30, 20 * 60)),
                )
                self.requests[request.id] = request
