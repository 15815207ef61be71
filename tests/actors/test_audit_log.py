"""The audit log (issue 15, item 4): every attempt at an account write leaves one append-only row in memory, naming
who asked (the API key), the conversation, the customer, the tool and its redacted arguments, the policy rules, the
result and the idempotency key.

The scenario suite runs through the whole in-process system (actors/runtime/local.py), whose OSS/BSS service writes
the audit table through memory's writer exactly as the Serve deployment does; each conversation's traced writes are
matched against its rows. The cases around the suite (a refusal, a retry, a replay, a queued write, append-only)
drive the OSS/BSS service directly. The HTTP route is checked in tests/integration/live/test_audit_http.py.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from decimal import Decimal

import pytest
from audit_kit import Recording, check_rows

from actors.runtime.oss_bss import OssBss
from memory.audit import AuditLog
from memory.writer import LocalWriter
from telco.contract.audit import AuditQuery
from telco.contract.messages import Identity
from telco.contract.principal import Principal
from telco.errors import InvalidInput
from telco.policy import load_policy
from telco.scenarios import load_scenarios
from telco.scenarios.agents_driver import run_scenario_with_agents

AGENT = Principal(key_id="desk-7", role="operations")


def test_every_write_of_the_scenario_suite_has_exactly_one_audit_row(offline_client):
    client = Recording(offline_client)
    for scenario in load_scenarios():
        run_scenario_with_agents(scenario, client)
    audit = offline_client.oss_bss.audit.log
    results: Counter = Counter()
    for cid, turns in client.turns.items():
        rows = [r.model_dump(mode="json") for r in audit.query(AuditQuery(conversation_id=cid, limit=1000))]
        check_rows(cid, turns, rows, ("local-operations", "operations"))  # the LocalClient's principal
        results.update(r["result"] for r in rows)
    # The suite resumes lines, refuels, credits, books technicians, hands over; and some of it is refused
    # (a refuel above the cap, a resume with an overdue bill).
    assert results["ok"] >= 20 and results["refused"] >= 1, results  # 29 and 3 on 2026-12-07


@pytest.fixture
def service(store):
    return OssBss("demo", audit=AuditLog(store, LocalWriter(store)))


def _call(service, tool, args, key, identity=Identity(verified_customer_id="C1001"), principal=AGENT):
    return asyncio.run(service.call_tool("conv-audit", identity, tool, args, key, principal))


def _rows(service, **filters):
    return service.audit.log.query(AuditQuery(conversation_id="conv-audit", **filters))


def test_a_credit_above_policy_is_refused_and_audited_once_however_often_it_is_retried(service):
    over = load_policy().goodwill_credit.max_per_credit + Decimal("1")
    args = {"customer_id": "C1001", "amount": str(over), "kind": "goodwill", "reason": "card 4111 1111 1111 1111"}
    for _ in range(2):  # a retry with the same key is the same attempt
        outcome = _call(service, "apply_credit", args, "conv-audit/credit/1")
        assert outcome.error is not None and outcome.error["code"] == "policy_denied"
    [row] = _rows(service)
    assert (row.result, row.policy_rule, row.tool) == ("refused", "goodwill_credit.max_per_credit", "apply_credit")
    assert (row.key_id, row.role, row.customer_id) == ("desk-7", "operations", "C1001")
    assert "goodwill_credit.max_per_credit" in row.policy_rules and str(over) in row.message
    assert "4111" not in row.args["reason"]  # arguments are redacted like everything kept in memory
    assert service.sandbox.world.credits == {} or all(c.customer_id != "C1001" or c.amount != over
                                                      for c in service.sandbox.world.credits.values())


def test_an_applied_write_has_one_ok_row_and_a_replay_is_recorded_as_such(service):
    args = {"customer_id": "C1001", "amount": "5.00", "kind": "goodwill", "reason": "sorry for the outage"}
    first = _call(service, "apply_credit", args, "conv-audit/credit/2")
    again = _call(service, "apply_credit", args, "conv-audit/credit/2")
    assert first.error is None and again.result == first.result
    assert sorted(r.result for r in _rows(service)) == ["ok", "replayed"]
    [ok] = _rows(service, result="ok")
    assert ok.idempotency_key == "conv-audit/credit/2" and ok.policy_rule is None and ok.message is None
    # Reads are not audited; an unverified write is refused by the identity rule and audited.
    _call(service, "get_customer_details", {"customer_id": "C1001"}, None)
    _call(service, "apply_credit", args, "conv-audit/credit/3", identity=Identity(), principal=None)
    [refused] = _rows(service, result="refused")
    assert refused.policy_rule == "identity.verified_before_account_change"
    assert (refused.key_id, refused.role) == ("system", "system")  # no key asked: named as such
    assert len(_rows(service)) == 3
    assert [r.tool for r in _rows(service, tool="apply_credit", limit=1)] == ["apply_credit"]


def test_a_write_queued_while_its_system_is_down_is_audited_queued_then_applied(service):
    asyncio.run(service.set_chaos({"unavailable": ["crm"]}))
    outcome = _call(service, "open_ticket", {"category": "technical", "subject": "line dead", "customer_id": "C1001"},
                    "conv-audit/ticket/1")
    assert outcome.result["status"] == "queued"
    assert [r.result for r in _rows(service)] == ["queued"]
    asyncio.run(service.set_chaos({}))
    rows = _rows(service)
    assert sorted(r.result for r in rows) == ["ok", "queued"]
    assert {(r.key_id, r.idempotency_key) for r in rows} == {("desk-7", "conv-audit/ticket/1")}


def test_the_audit_table_is_append_only(store):
    writer = LocalWriter(store)
    for kind, payload in (("upsert", {"rows": [{"audit_id": "A-1"}]}), ("delete", {"keys": ["A-1"]})):
        with pytest.raises(InvalidInput, match="append-only"):
            writer.apply([{"table": "audit", "kind": kind, **payload}])


def test_time_filters_take_any_valid_instant(service):
    """Found by the API fuzzing: year 41 was written as "41" in the SQL filter (a 500), and a local time beyond UTC's
    range overflowed. Any date-time the schema allows is a bound."""
    _call(service, "open_ticket", {"category": "technical", "subject": "line dead"}, "conv-audit/ticket/2")
    [row] = _rows(service)
    for since, until, found in [("0041-01-16T19:38:41.2-12:09", None, 1), ("0001-01-01T00:00:00+14:00", None, 1),
                                (None, "9999-12-31T23:59:59-12:00", 1), ("9999-12-31T23:59:59-12:00", None, 0),
                                (None, "0001-01-01T00:00:00+14:00", 0), (None, row.at.isoformat(), 0)]:
        bounds = {k: datetime.fromisoformat(v) for k, v in (("since", since), ("until", until)) if v}
        assert len(_rows(service, **bounds)) == found, (since, until)
