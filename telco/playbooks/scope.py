"""Which of a customer's services a playbook works on, resolved once through the read tools."""
from __future__ import annotations

from typing import Any, Literal

from telco.errors import InvalidInput
from telco.tools.port import ToolPort


async def resolve_scope(port: ToolPort, customer_id: str, service: Literal["mobile", "broadband", "account"],
                  service_id: str | None = None) -> dict[str, Any]:
    details = await port.call("get_customer_details", {"customer_id": customer_id})
    scope: dict[str, Any] = {
        "customer_id": customer_id,
        "area_id": details["address"]["area_id"],
        "postcode": details["address"]["postcode"],
    }
    lines = details.get("lines", [])
    broadband = details.get("broadband", [])
    line = _pick(lines, service_id) if service in ("mobile", "account") else None
    bb = _pick(broadband, service_id) if service in ("broadband", "account") else None
    if service == "mobile" and line is None:
        raise InvalidInput(f"customer {customer_id} has no mobile line{f' {service_id}' if service_id else ''}")
    if service == "broadband" and bb is None:
        raise InvalidInput(f"customer {customer_id} has no broadband service{f' {service_id}' if service_id else ''}")
    if line:
        scope.update(line_id=line["line_id"], number=line["number"], line_plan_id=line["plan_id"])
    if bb:
        scope.update(service_id=bb["service_id"], service_area_id=bb["area_id"], broadband_plan_id=bb["plan_id"],
                     technology=bb["technology"])
        if service == "broadband":
            scope["area_id"] = bb["area_id"]
    return scope


def _pick(services: list[dict[str, Any]], service_id: str | None) -> dict[str, Any] | None:
    if service_id:
        return next((s for s in services if service_id in (s.get("line_id"), s.get("service_id"))), None)
    active = [s for s in services if s.get("status") != "closed"]
    return active[0] if active else None
