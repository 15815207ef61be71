"""The network recovers in an area: logged outages end now and failed equipment comes back up."""
from __future__ import annotations

from telco.errors import NotFound
from telco.sandbox.state import Sandbox


def restore_area(sb: Sandbox, area_id: str) -> dict[str, list[str]]:
    if area_id not in sb.world.areas:
        raise NotFound(f"no area with id {area_id!r}", kind="area", id=area_id)
    now = sb.world.clock
    ended = []
    for outage in sb.world.outages.values():
        if outage.area_id == area_id and outage.started_at <= now and outage.resolved_at is None:
            outage.resolved_at = now
            ended.append(outage.id)
    restored = []
    for thing in [*sb.world.access_nodes.values(), *sb.world.cells.values()]:
        if thing.area_id == area_id and thing.status != "up":
            thing.status, thing.down_since = "up", None
            restored.append(thing.id)
    return {"outages_ended": sorted(ended), "equipment_restored": sorted(restored)}
