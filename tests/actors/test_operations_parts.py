"""Area incidents, the back-end read cache and the handoff queue's rules, as plain classes over the sandbox."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from actors.operations.incidents import IncidentBook, incident_config, notice
from telco.contract.messages import Identity
from actors.runtime.oss_bss import OssBss, RemoteToolPort
from telco.errors import BackendUnavailable, Conflict
from telco.sandbox import handoff_queue

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
DOWN = [{"id": "DSLAM-1", "cause": "access node DSLAM-1 is down"}]


def report(book: IncidentBook, customer: str, minutes: float, outages=DOWN, area: str = "A-1"):
    return book.report({"area_id": area, "service": "broadband", "customer_id": customer,
                        "at": T0 + timedelta(minutes=minutes), "outages": outages})


def test_an_incident_opens_at_the_threshold_and_later_reports_join_it():
    book = IncidentBook()
    n = incident_config().min_customers
    verdicts = [report(book, f"C{i}", i) for i in range(n + 4)]
    assert [v.incident is not None for v in verdicts] == [False] * (n - 1) + [True] * 5
    assert verdicts[n - 1].opened and not any(v.opened for v in verdicts[n:])
    (incident,) = book.list()
    assert incident.outage_ids == ["DSLAM-1"] and len(incident.customers) == n + 4
    assert "DSLAM-1 is down" in notice(incident) and incident.incident_id in notice(incident)


def test_reports_spread_wider_than_the_window_or_over_areas_open_nothing():
    book = IncidentBook()
    window_min = incident_config().window_s / 60
    for i in range(5):
        assert report(book, f"C{i}", i * (window_min + 1)).incident is None
    for i in range(5):
        assert report(book, f"D{i}", 0, area=f"A-{i + 10}").incident is None
    # The same customer writing again is one customer.
    for _ in range(5):
        assert report(book, "E1", 1, area="A-99").incident is None


def test_recovery_closes_the_incident_and_the_next_report_starts_afresh():
    book = IncidentBook()
    for i in range(3):
        report(book, f"C{i}", i)
    assert book.recheck("A-1", DOWN, T0 + timedelta(minutes=5)) is None
    closed = book.recheck("A-1", [], T0 + timedelta(minutes=6))
    assert closed is not None and closed.status == "closed" and closed.close_reason
    assert report(book, "C9", 7, outages=[]).incident is None


def test_no_outage_behind_a_few_reports_opens_nothing():
    book = IncidentBook()
    for i in range(incident_config().min_customers_unconfirmed - 1):
        assert report(book, f"C{i}", i, outages=[]).incident is None
    assert book.list() == []


def test_reports_without_outage_data_open_an_unconfirmed_incident_customers_are_not_told_of():
    book = IncidentBook()
    n = incident_config().min_customers_unconfirmed
    verdicts = [report(book, f"C{i}", i, outages=[]) for i in range(n)]
    assert not any(v.incident for v in verdicts) and verdicts[-1].opened
    (incident,) = book.list("open")
    assert incident.outage_ids == [] and len(incident.customers) == n
    # The network confirms: from now on customers are told.
    confirmed = report(book, "C99", n, outages=DOWN)
    assert confirmed.incident is not None and confirmed.incident.outage_ids == ["DSLAM-1"]


def test_an_unconfirmed_incident_closes_after_a_quiet_period():
    book = IncidentBook()
    n = incident_config().min_customers_unconfirmed
    for i in range(n):
        report(book, f"C{i}", i, outages=[])
    assert book.recheck("A-1", [], T0 + timedelta(minutes=n + 10)) is None
    quiet = incident_config().quiet_close_s / 60
    assert book.recheck("A-1", [], T0 + timedelta(minutes=n + quiet)).status == "closed"


# ---- back end down: the cache of safe reads -------------------------------------------------------------------
def test_safe_reads_are_served_from_cache_while_their_system_is_down():
    service = OssBss("demo")
    me = Identity(verified_customer_id="C1001")
    port = RemoteToolPort(service, "conv-1", me)

    async def run():
        fresh = await port.call("get_customer_details", {"customer_id": "C1001"})
        bills_ok = await port.call("get_bills", {"customer_id": "C1001"})
        await service.set_chaos({"unavailable": ["bss"]})
        cached = await port.call("get_customer_details", {"customer_id": "C1001"})
        with pytest.raises(BackendUnavailable):  # bills change: never from cache
            await port.call("get_bills", {"customer_id": "C1001"})
        stranger = RemoteToolPort(service, "conv-2", Identity(verified_customer_id="C1002"))
        with pytest.raises(BackendUnavailable):  # another identity never gets this customer's cached answer
            await stranger.call("get_customer_details", {"customer_id": "C1001"})
        return fresh, bills_ok, cached

    fresh, _, cached = asyncio.run(run())
    assert cached == fresh
    assert port.calls[-2]["ok"] and "answered from cache" in port.calls[-2]["error"]


# ---- the handoff queue ------------------------------------------------------------------------------------------
def test_handoff_queue_claims_and_resolves_once():
    service = OssBss("demo")
    port = RemoteToolPort(service, "conv-h", Identity(verified_customer_id="C1001"))
    hid = asyncio.run(port.call("transfer_to_person", {"customer_id": "C1001", "reason": "asked", "summary": "s"},
                                idempotency_key="conv-h/handoff"))[
        "handoff_id"]
    sb = service.sandbox
    assert [h.id for h in handoff_queue.list_handoffs(sb, "queued")] == [hid]
    with pytest.raises(Conflict):
        handoff_queue.check_holder(sb, hid, "dana")  # nobody speaks before claiming
    handoff_queue.claim_handoff(sb, hid, "dana")
    handoff_queue.claim_handoff(sb, hid, "dana")  # the same person again: no-op
    with pytest.raises(Conflict):
        handoff_queue.claim_handoff(sb, hid, "sam")
    with pytest.raises(Conflict):
        handoff_queue.resolve_handoff(sb, hid, "sam", "resolved", None)
    done = handoff_queue.resolve_handoff(sb, hid, "dana", "resolved", "fixed")
    assert done.status == "resolved" and done.outcome == "resolved"
    with pytest.raises(Conflict):
        handoff_queue.claim_handoff(sb, hid, "dana")


def test_backend_down_gives_a_degraded_answer_with_a_ticket():
    from actors.planner.conversation import ConversationState, Issue
    from actors.operations.turn_hooks import Operations
    from actors.planner.turn import TurnBuilder

    service = OssBss("demo")
    ops = Operations(service)
    now = datetime.now(timezone.utc)
    state = ConversationState(conversation_id="conv-d", customer_id="C1001", created_at=now, updated_at=now,
                              identity=Identity(verified_customer_id="C1001"),
                              issues=[Issue(intent="broadband_drops", confidence=0.9, opened_at=now, status="active")])
    turn = TurnBuilder("conv-d", 1)
    down = BackendUnavailable("the OSS system is unavailable (get_router_status)", system="oss",
                              tool="get_router_status")
    assert asyncio.run(ops.backend_down(state, turn, down))
    assert turn.degraded and "backend_unavailable_ticket" in turn.informed
    (ticket,) = service.sandbox.world.tickets.values()
    assert ticket.customer_id == "C1001" and ticket.id in turn.parts.messages[-1]
    assert "network diagnostics" in turn.parts.messages[-1] and state.issues[0].status == "escalated"
    assert not asyncio.run(ops.backend_down(state, TurnBuilder("conv-d", 2), ValueError("a bug")))

    # Ticketing down too: the ticket waits in the service's outbox and is opened once, when ticketing is back.
    asyncio.run(service.set_chaos({"unavailable": ["oss", "crm"]}))
    state.issues[0].status = "active"
    turn = TurnBuilder("conv-d", 3)
    assert asyncio.run(ops.backend_down(state, turn, down))
    assert "backend_unavailable_ticket" in turn.informed and state.issues[0].status == "escalated"
    assert "queued" in turn.parts.messages[-1] and len(service.sandbox.world.tickets) == 1
    assert asyncio.run(service.set_chaos({"unavailable": ["oss"]}))["queued_writes_applied"] == 1
    assert asyncio.run(service.set_chaos({}))["queued_writes_applied"] == 0
    assert len(service.sandbox.world.tickets) == 2


def test_a_person_takes_over_while_ticketing_is_down():
    service = OssBss("demo")
    asyncio.run(service.set_chaos({"unavailable": ["crm"]}))
    port = RemoteToolPort(service, "conv-t", Identity(verified_customer_id="C1001"))
    handoff = asyncio.run(port.call("transfer_to_person", {"customer_id": "C1001", "reason": "asked", "summary": "s"},
                                    idempotency_key="conv-t/handoff"))
    assert [h.id for h in handoff_queue.list_handoffs(service.sandbox, "queued")] == [handoff["handoff_id"]]
    ticket = {"customer_id": "C1001", "category": "technical", "subject": "still broken"}
    receipt = asyncio.run(port.call("open_ticket", ticket, idempotency_key="conv-t/ticket"))
    assert receipt["status"] == "queued" and service.sandbox.world.tickets == {}
    again = asyncio.run(port.call("open_ticket", ticket, idempotency_key="conv-t/ticket"))  # a retried request
    assert asyncio.run(service.set_chaos({}))["queued_writes_applied"] == 2
    assert again["status"] == "queued" and len(service.sandbox.world.tickets) == 1  # its key applied it once


def test_reloading_the_world_closes_open_incidents_and_forgets_pending_reports():
    from datetime import datetime, timezone

    from actors.operations.incidents import IncidentBook, Report

    book = IncidentBook()
    at = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
    outage = [{"id": "OUT-1", "cause": "fibre cut"}]
    for n in range(book.cfg.min_customers):
        verdict = book.report(Report(area_id="A-1", service="broadband", customer_id=f"C{n}", at=at, outages=outage))
    assert verdict.incident is not None
    book.report(Report(area_id="A-2", service="broadband", customer_id="C9", at=at, outages=[]))
    closed = book.close_all(at, "the sandbox world was reloaded")
    assert [i.status for i in closed] == ["closed"] and book.open_areas() == [] and book.reports == {}
    assert book.list()[0].close_reason == "the sandbox world was reloaded"
