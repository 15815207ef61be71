"""What the planner does for operations around a turn, in one place so planner.py only calls in:

- `screen`: before any troubleshooting, a connectivity report is checked against the area's incidents; a
  customer of an area with a confirmed incident is told about it first and not walked through fixes that cannot
  help.
- `backend_down`: a back-end system the issue needs is down: a plain degraded answer and a ticket.
- `after_commit`: the committed turn goes to the Ray metrics and, without waiting, to the monitor actor.
- `feedback`: the customer's rating goes to the CSAT metric.
"""
from __future__ import annotations

import inspect
import logging
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from actors.operations.incidents import Incident, Report, Verdict, incident_config, notice
from actors.operations.metrics import EndedIssue, record_feedback, record_turn
from actors.operations.monitor import ALERTS_PAGE, TurnSample
from actors.planner.conversation import ConversationState, Issue
from actors.planner.turn import TurnBuilder
from actors.runtime.backend_cache import backends
from actors.runtime.oss_bss import RemoteToolPort
from telco.contract.http import TurnOut
from telco.errors import TelcoError

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def backend_notices() -> dict[str, str]:
    return {k: " ".join(v.split()) for k, v in backends()["notices"].items()}


def _system(err: TelcoError) -> str:
    # The customer hears which of our systems is down, in words, never the tool's name.
    return {"oss": "our network diagnostics", "bss": "our account systems",
            "crm": "our ticketing"}.get(str(err.details.get("system")), "one of our systems")


class Operations:
    def __init__(self, oss_bss: Any, incidents: Any = None, monitor: Any = None) -> None:
        """`incidents` and `monitor`: Ray actor handles or in-process objects (IncidentBook, MonitorService)."""
        self.oss_bss, self.book, self.monitor = oss_bss, incidents, monitor

    @classmethod
    def in_ray(cls, oss_bss: Any, memory_uri: str) -> "Operations":
        from actors.operations.incidents import incident_actor
        from actors.operations.monitor import monitor_actor

        return cls(oss_bss, incident_actor(memory_uri), monitor_actor(memory_uri))

    # ---- before troubleshooting ----------------------------------------------------------------------------
    async def screen(self, state: ConversationState, issue: Issue, turn: TurnBuilder) -> Incident | None:
        """Report a connectivity issue about to be troubleshot; tell the customer of a confirmed area incident
        (and end the issue: nothing they or we could do fixes an area outage)."""
        cfg = incident_config()
        customer_id = state.identity.verified_customer_id
        if self.book is None or issue.run is not None or issue.intent not in cfg.intents or customer_id is None:
            return None
        service = cfg.intents[issue.intent]
        port = RemoteToolPort(self.oss_bss, state.conversation_id, state.identity, turn.principal)
        try:
            details = await port.call("get_customer_details", {"customer_id": customer_id})
            area = details["address"]["area_id"]
            status = await port.call("get_network_status", {"area_id": area, **({"service": service} if service else {})})
        except TelcoError as err:  # no area view: troubleshoot as usual
            log.warning("area check skipped for %s: %s", state.conversation_id, err)
            return None
        finally:
            turn.tool_calls(port.calls)
        report = Report(area_id=area, service=service, customer_id=customer_id,
                        at=datetime.now(timezone.utc), outages=status.get("active_outages", []))
        try:
            verdict = Verdict.model_validate(await _call(self.book.report, report.model_dump(mode="json")))
        except Exception:  # the incident book is an aid: without it the customer is troubleshot as usual
            log.exception("incident report lost for %s", state.conversation_id)
            return None
        if verdict.incident is None:
            return None
        self._tell(state, issue, verdict.incident, turn)
        return verdict.incident

    @staticmethod
    def _tell(state: ConversationState, issue: Issue, incident: Incident, turn: TurnBuilder) -> None:
        turn.parts.messages.insert(0, notice(incident))
        # Customers are told only of incidents the network confirms: that is telling them of the area outage,
        # which is what the flows record as `area_outage` when they find it themselves.
        told = ["area_incident", "area_outage"]
        turn.parts.informed.extend(told)
        turn.informed.extend(told)
        issue.turns += 1
        issue.status, issue.closed_at = "resolved", datetime.now(timezone.utc)

    async def recheck(self, area_id: str) -> Incident | None:
        """Ask the network about an area now; an incident whose outage is over closes."""
        if self.book is None:
            return None
        from telco.contract.messages import Identity

        port = RemoteToolPort(self.oss_bss, "operations", Identity())
        status = await port.call("get_network_status", {"area_id": area_id})
        closed = await _call(self.book.recheck, area_id, status.get("active_outages", []),
                             datetime.now(timezone.utc))
        return Incident.model_validate(closed) if isinstance(closed, dict) else closed

    # ---- a back-end system down ---------------------------------------------------------------------------
    async def backend_down(self, state: ConversationState, turn: TurnBuilder, exc: BaseException) -> bool:
        """A system the issue needs is down: say so plainly and log a ticket so nobody has to chase it. False
        when `exc` is not an unavailable back end (the caller re-raises it)."""
        from actors.runtime.errors import as_telco_error

        err = as_telco_error(exc) if not isinstance(exc, TelcoError) else exc
        if err.code != "backend_unavailable":
            return False
        issue = state.active or state.next_pending
        turn.degraded = err.message
        turn.agent("oss_bss", 0, 1, "degraded")
        notices = backend_notices()
        port = RemoteToolPort(self.oss_bss, state.conversation_id, state.identity, turn.principal)
        intent = issue.intent if issue else "unknown"
        try:
            ticket = await port.call("open_ticket", {
                "category": "technical", "priority": "high", "customer_id": state.identity.verified_customer_id,
                "subject": f"{intent.replace('_', ' ')}: could not be handled, a back-end system was down",
                "details": {"conversation_id": state.conversation_id, "error": err.message}},
                idempotency_key=f"{state.conversation_id}/backend_down/{turn.seq}")
        except TelcoError:
            ticket = None
        finally:
            turn.tool_calls(port.calls)
        if ticket is None:
            if issue is not None:
                issue.status, issue.run = "pending", None  # picked up again on the customer's next message
            turn.parts.messages.append(notices["without_ticket"])
            turn.informed.append("backend_unavailable")
            return True
        if ticket.get("status") == "queued":  # ticketing is down too: the ticket waits in the outbox
            turn.parts.messages.append(notices["with_queued_ticket"].format(system=_system(err)))
        else:
            turn.parts.messages.append(notices["with_ticket"].format(system=_system(err),
                                                                     ticket_id=ticket["ticket_id"]))
        turn.informed.append("backend_unavailable_ticket")
        if issue is not None:
            issue.status, issue.closed_at = "escalated", datetime.now(timezone.utc)
        state.status = "open"
        return True

    async def incidents(self, status: str | None = None) -> list[dict[str, Any]]:
        """Area incidents, newest first; open ones are first checked against the network (and closed if over)."""
        if self.book is None:
            return []
        for area in await _call(self.book.open_areas):
            await self.recheck(area)
        return await _call(self.book.list, status)

    async def world_reloaded(self) -> list[dict[str, Any]]:
        """A new sandbox world: incidents about the old one's network are closed, so none reaches its customers, and
        the monitor judges the new world's turns alone."""
        if self.monitor is not None:
            await _call(self.monitor.world_reloaded)
        if self.book is None:
            return []
        return await _call(self.book.close_all, datetime.now(timezone.utc), "the sandbox world was reloaded")

    async def alerts(self, severity: str | None = None, limit: int = ALERTS_PAGE) -> list[dict[str, Any]]:
        if self.monitor is None:
            return []
        return await _call(self.monitor.alerts, severity, limit)

    # ---- after the commit --------------------------------------------------------------------------------
    def after_commit(self, out: TurnOut, ended: list[Issue]) -> None:
        issues = [EndedIssue(intent=i.intent, outcome=i.status, turns=i.turns, handoff_rule=i.handoff_rule)
                  for i in ended]
        record_turn(out, issues)
        if self.monitor is not None:
            sample = TurnSample.of(out, [i.label for i in issues]).model_dump()
            try:
                if hasattr(self.monitor.observe, "remote"):
                    self.monitor.observe.remote(sample)  # fire and forget: never on the turn's critical path
            except Exception:
                log.exception("monitor not fed")

    def feedback(self, csat: int, resolved: bool) -> None:
        record_feedback(csat, resolved)


async def _call(method: Any, *args: Any) -> Any:
    if hasattr(method, "remote"):
        return await method.remote(*args)
    result = method(*args)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, list):
        return [r.model_dump(mode="json") if hasattr(r, "model_dump") else r for r in result]
    return result.model_dump(mode="json") if hasattr(result, "model_dump") else result
