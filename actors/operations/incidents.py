"""Area incidents: when several customers of one area report connectivity problems within a window, an incident
is opened, linked to the network's outage records; later customers of that area are told about it before any
troubleshooting, and it closes when the network recovers. Many reports with nothing on the network open an
unconfirmed incident for operations to investigate; customers hear of it once the network confirms it.

`IncidentBook` is a plain class (tested without Ray); `incident_actor` is the detached named actor that every
planner replica shares, so reports arriving at different replicas count towards one incident. The rules are data
(telco/data/incidents.yaml).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from telco.data import INCIDENTS_FILE

INCIDENTS_NAME = "telco-incidents"


class IncidentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_customers: int = Field(ge=2)
    min_customers_unconfirmed: int = Field(ge=2)
    window_s: float = Field(gt=0)
    quiet_close_s: float = Field(gt=0)
    intents: dict[str, Literal["mobile", "broadband"] | None]
    notice: str


@lru_cache(maxsize=1)
def incident_config() -> IncidentConfig:
    return IncidentConfig.model_validate(yaml.safe_load(INCIDENTS_FILE.read_text(encoding="utf-8")))


class Incident(BaseModel):
    model_config = ConfigDict(extra="forbid")
    incident_id: str
    area_id: str
    service: str | None
    status: Literal["open", "closed"] = "open"
    opened_at: datetime
    closed_at: datetime | None = None
    last_report_at: datetime
    customers: list[str] = []  # everyone who reported, in order
    outage_ids: list[str] = []  # the network's own outage records behind it, when it has any
    cause: str | None = None
    expected_end: datetime | None = None
    close_reason: str | None = None


class Report(BaseModel):
    """One customer's connectivity report and what the network said about their area at that moment."""

    model_config = ConfigDict(extra="forbid")
    area_id: str
    service: str | None
    customer_id: str
    at: datetime
    outages: list[dict[str, Any]] = []  # AreaStatus.active_outages as JSON


class Verdict(BaseModel):
    incident: Incident | None = None  # the open, confirmed incident the customer should be told about
    opened: bool = False  # this report opened it
    closed: Incident | None = None  # an incident this report found recovered


class IncidentBook:
    def __init__(self, config: IncidentConfig | None = None) -> None:
        self.cfg = config or incident_config()
        self.reports: dict[tuple[str, str | None], list[tuple[datetime, str]]] = {}
        self.incidents: dict[str, Incident] = {}
        self.changed: set[str] = set()  # incidents opened or changed since the last take_changed()

    def load(self, incidents: list[Incident]) -> None:
        """Incidents kept from before (a restarted actor reloads the open ones from memory)."""
        self.incidents.update((i.incident_id, i) for i in incidents)

    def take_changed(self) -> list[Incident]:
        changed = [self.incidents[i] for i in sorted(self.changed)]
        self.changed.clear()
        return changed

    def _open_for(self, area_id: str, service: str | None) -> Incident | None:
        return next((i for i in self.incidents.values()
                     if i.status == "open" and i.area_id == area_id
                     and (i.service is None or service is None or i.service == service)), None)

    def report(self, r: Report | dict) -> Verdict:
        r = r if isinstance(r, Report) else Report.model_validate(r)
        verdict = Verdict()
        current = self._open_for(r.area_id, r.service)
        if current is not None and current.outage_ids and not _still_down(current, r.outages):
            verdict.closed = self._close(current, r.at, "the network reports the outage over")
            current = None
        if current is not None:
            self.changed.add(current.incident_id)
            if r.customer_id not in current.customers:
                current.customers.append(r.customer_id)
            current.last_report_at = r.at
            if not current.outage_ids and r.outages:
                _link(current, r.outages)  # the network now confirms what the customers were saying
            verdict.incident = current if current.outage_ids else None
            return verdict
        key = (r.area_id, r.service)
        since = r.at - timedelta(seconds=self.cfg.window_s)
        recent = [(t, c) for t, c in self.reports.get(key, []) if t >= since] + [(r.at, r.customer_id)]
        self.reports[key] = recent
        customers = list(dict.fromkeys(c for _, c in recent))
        confirmed = bool(r.outages) and len(customers) >= self.cfg.min_customers
        if confirmed or len(customers) >= self.cfg.min_customers_unconfirmed:
            self.reports[key] = []
            incident = Incident(incident_id=f"INC-{uuid.uuid4().hex[:8].upper()}", area_id=r.area_id,
                                service=r.service, opened_at=r.at, last_report_at=r.at, customers=customers)
            _link(incident, r.outages)
            self.incidents[incident.incident_id] = incident
            self.changed.add(incident.incident_id)
            verdict.opened = True
            verdict.incident = incident if confirmed else None
        return verdict

    def recheck(self, area_id: str, outages: list[dict[str, Any]], at: datetime) -> Incident | None:
        """The network's current view of an area: an incident whose outages are over closes."""
        closed = None
        for incident in list(self.incidents.values()):
            if incident.status != "open" or incident.area_id != area_id:
                continue
            if incident.outage_ids and not _still_down(incident, outages):
                closed = self._close(incident, at, "the network reports the outage over")
            elif not incident.outage_ids and at - incident.last_report_at > timedelta(seconds=self.cfg.quiet_close_s):
                closed = self._close(incident, at, "no further reports")
        return closed

    def close_all(self, at: datetime, reason: str) -> list[Incident]:
        """Close every open incident and forget pending reports (the network they described is gone, e.g. a new
        sandbox world was loaded). Closed incidents stay listed as history."""
        self.reports.clear()
        return [self._close(i, at, reason) for i in self.incidents.values() if i.status == "open"]

    def _close(self, incident: Incident, at: datetime, reason: str) -> Incident:
        incident.status, incident.closed_at, incident.close_reason = "closed", at, reason
        self.changed.add(incident.incident_id)
        return incident

    def list(self, status: str | None = None) -> list[Incident]:
        return sorted((i for i in self.incidents.values() if status is None or i.status == status),
                      key=lambda i: i.opened_at, reverse=True)

    def open_areas(self) -> list[str]:
        return sorted({i.area_id for i in self.incidents.values() if i.status == "open"})


def _link(incident: Incident, outages: list[dict[str, Any]]) -> None:
    incident.outage_ids = [o["id"] for o in outages]
    incident.cause = next((o.get("cause") for o in outages), None)
    incident.expected_end = next((o.get("expected_end") for o in outages if o.get("expected_end")), None)


def _still_down(incident: Incident, outages: list[dict[str, Any]]) -> bool:
    return bool({o["id"] for o in outages} & set(incident.outage_ids))


def notice(incident: Incident) -> str:
    service = {"broadband": "home broadband", "mobile": "mobile service"}.get(incident.service or "", "our services")
    return incident_config().notice.format(
        area=incident.area_id, service=service, cause=f" ({incident.cause})" if incident.cause else "",
        eta=f"; we expect it back by {incident.expected_end:%H:%M} UTC" if incident.expected_end else "",
        incident_id=incident.incident_id).strip()


def incident_actor(memory_uri: str | None = None):
    """The shared incident book; with `memory_uri` every change is kept in memory's `area_incidents` table (through
    the single writer) and a restarted actor starts from the open incidents there."""
    import ray

    @ray.remote(num_cpus=0, max_restarts=-1)
    class IncidentActor:
        def __init__(self, memory_uri: str | None) -> None:
            from actors.operations.incident_table import IncidentTable

            self.book = IncidentBook()
            self.table = IncidentTable(memory_uri) if memory_uri else None
            if self.table is not None:
                self.book.load([Incident.model_validate_json(b) for b in self.table.open_bodies()])

        def _kept(self, answer: Any) -> Any:
            if self.table is not None:
                self.table.save(self.book.take_changed())
            return answer

        def report(self, r: dict) -> dict:
            return self._kept(self.book.report(r).model_dump(mode="json"))

        def recheck(self, area_id: str, outages: list[dict], at: datetime) -> dict | None:
            closed = self.book.recheck(area_id, outages, at)
            return self._kept(closed.model_dump(mode="json") if closed else None)

        def list(self, status: str | None = None) -> list[dict]:
            return [i.model_dump(mode="json") for i in self.book.list(status)]

        def close_all(self, at: datetime, reason: str) -> list[dict]:
            return self._kept([i.model_dump(mode="json") for i in self.book.close_all(at, reason)])

        def open_areas(self) -> list[str]:
            return self.book.open_areas()

    from memory.placement import on_head_node

    return IncidentActor.options(name=INCIDENTS_NAME, namespace="telco", get_if_exists=True,
                                 lifetime="detached", **on_head_node()).remote(memory_uri)
