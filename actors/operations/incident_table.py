"""The area incidents kept in memory (LanceDB table `area_incidents`, written through the single writer), so an
incident actor that restarts still knows which areas have an open incident and keeps telling their customers."""
from __future__ import annotations

from typing import Any

from memory.store import connect, now_utc


class IncidentTable:
    def __init__(self, memory_uri: str, writer: Any = None) -> None:
        """`writer`: the single writer by default (a Ray actor per table group); a LocalWriter in tests."""
        from memory.writer import RayWriter

        self.store = connect(memory_uri)
        self.writer = writer if writer is not None else RayWriter(memory_uri)

    def open_bodies(self) -> list[str]:
        """The open incidents as stored (JSON of actors.operations.incidents.Incident; the book parses them)."""
        rows = (self.store.table("area_incidents").search().where("status = 'open'").select(["body"])
                .limit(100_000).to_list())
        return [r["body"] for r in rows]

    def save(self, incidents: list[Any]) -> None:
        """Upsert these incidents (objects with incident_id, area_id, status, opened_at and model_dump_json)."""
        if not incidents:
            return
        at = now_utc()
        self.writer.upsert("area_incidents", [
            {"incident_id": i.incident_id, "area_id": i.area_id, "status": i.status, "opened_at": i.opened_at,
             "updated_at": at, "body": i.model_dump_json()} for i in incidents])
