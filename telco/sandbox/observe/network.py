"""The state of an area's network: logged outages, failed equipment, planned maintenance, degraded cells and nodes."""
from __future__ import annotations

from telco.errors import InvalidInput, NotFound
from telco.sandbox.observations import AreaStatus, MaintenanceNotice, OutageNotice
from telco.sandbox.observe.common import active_outages
from telco.sandbox.state import Sandbox


def _equipment_outages(sb: Sandbox, area_id: str, service: str | None) -> list[OutageNotice]:
    """Failed equipment is an outage whether or not anyone has logged one, and ends when the equipment is back."""
    now = sb.world.clock
    found: list[OutageNotice] = []
    if service in (None, "broadband"):
        for node in sorted(sb.world.access_nodes.values(), key=lambda n: n.id):
            if node.area_id == area_id and node.status == "down":
                found.append(OutageNotice(id=node.id, services=["broadband"], cause=f"access node {node.id} is down",
                                          started_at=node.down_since or now, expected_end=None))
    cells = [c for c in sb.world.cells.values() if c.area_id == area_id]
    # One dead cell among working ones is covered by its neighbours; only a dead area is an outage.
    if service in (None, "mobile") and cells and all(c.status == "down" for c in cells):
        since = [c.down_since for c in cells if c.down_since is not None]
        found.append(OutageNotice(id=f"{area_id}-cells", services=["mobile"],
                                  cause="every mobile cell in the area is down",
                                  started_at=max(since) if since else now, expected_end=None))
    return found


def area_status(sb: Sandbox, area_id: str, service: str | None = None) -> AreaStatus:
    if service not in (None, "mobile", "broadband"):
        raise InvalidInput(f"service must be 'mobile', 'broadband' or omitted, not {service!r}")
    if area_id not in sb.world.areas:
        raise NotFound(f"no area with id {area_id!r}", kind="area", id=area_id)
    now = sb.world.clock
    outages = [
        OutageNotice(id=o.id, services=list(o.services), cause=o.cause, started_at=o.started_at,
                     expected_end=o.expected_end)
        for o in active_outages(sb, area_id, service)
    ]
    outages += _equipment_outages(sb, area_id, service)
    maintenance = [
        MaintenanceNotice(id=m.id, services=list(m.services), description=m.description, starts_at=m.starts_at,
                          ends_at=m.ends_at, in_progress=m.starts_at <= now)
        for m in sorted(sb.world.maintenance.values(), key=lambda m: (m.starts_at, m.id))
        if m.area_id == area_id and m.ends_at > now and (service is None or service in m.services)
    ]
    cells = [c.id for c in sb.world.cells.values() if c.area_id == area_id and c.status != "up"]
    nodes = [n.id for n in sb.world.access_nodes.values() if n.area_id == area_id and n.status != "up"]
    return AreaStatus(
        area_id=area_id,
        active_outages=outages,
        planned_maintenance=maintenance,
        degraded_cells=sorted(cells) if service in (None, "mobile") else [],
        degraded_nodes=sorted(nodes) if service in (None, "broadband") else [],
    )
