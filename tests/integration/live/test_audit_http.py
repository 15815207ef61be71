"""The audit log over HTTP (issue 15, item 4): on the live app the OSS/BSS deployment appends a row for every write
through the cluster's single writer, and GET /v1/ops/audit lists them with filters, for operations and admin keys.

Two scenarios over the API with the operations key: a refuel that is applied and one above the per-request cap that
policy refuses. Their traced writes and their audit rows must be the same attempts, one row each, naming the key.
"""
from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from audit_kit import Recording, check_rows
from live_kit import ADMIN, C1001, OPS, h

from telco.contract.audit import MAX_AUDIT_PAGE
from telco.scenarios import load_scenarios
from telco.scenarios.agents_driver import HttpClient, run_scenario_with_agents


@pytest.mark.ray
def test_writes_over_http_are_audited_and_listed_with_filters(app):
    url = app["url"]
    with httpx.Client(base_url=url, timeout=60) as http:
        def audit(key: str = OPS, **params) -> httpx.Response:
            return http.get("/v1/ops/audit", headers=h(key), params=params)

        def ids(response: httpx.Response) -> list[str]:
            assert response.status_code == 200, response.text
            return [r["audit_id"] for r in response.json()]

        # The app is shared (tests/integration/live): other modules' scenarios write for C1012 too. What was there
        # before is set aside, so every filter below is checked against exactly the rows this test wrote.
        before = set(ids(audit(customer_id="C1012", limit=MAX_AUDIT_PAGE)))
        started = datetime.now(timezone.utc)
        client = Recording(HttpClient(url, operations_key=OPS, admin_key=ADMIN))
        wanted = {"data-limit-refuel", "data-limit-refuel-over-cap"}
        results = {s.id: run_scenario_with_agents(s, client) for s in load_scenarios() if s.id in wanted}
        assert all(r.passed for r in results.values()), {k: r.checks for k, r in results.items() if not r.passed}

        rows_by_conversation = {cid: audit(conversation_id=cid).json() for cid in client.turns}
        for cid, turns in client.turns.items():
            check_rows(cid, turns, rows_by_conversation[cid], ("dev-operations", "operations"))
        rows = [r for rs in rows_by_conversation.values() for r in rs]
        [applied] = [r for r in rows if r["tool"] == "refuel_data" and r["result"] == "ok"]
        [refused] = [r for r in rows if r["tool"] == "refuel_data" and r["result"] == "refused"]
        assert applied["customer_id"] == refused["customer_id"] == "C1012"
        assert refused["policy_rule"] == "refuel.max_gb_per_request" and refused["message"]
        ours = {r["audit_id"] for r in rows if r["customer_id"] == "C1012"}
        assert not ours & before

        # Filters: by customer, tool and result, by time, newest first, limited; admin keys may read it too.
        mine = audit(customer_id="C1012", tool="refuel_data", since=started.isoformat()).json()
        assert {r["audit_id"] for r in mine} == {r["audit_id"] for r in rows if r["tool"] == "refuel_data"}
        assert ids(audit(ADMIN, customer_id="C1012", result="refused", since=started.isoformat())) \
            == [r["audit_id"] for r in mine if r["result"] == "refused"] == [refused["audit_id"]]
        everything = audit(customer_id="C1012", limit=MAX_AUDIT_PAGE).json()
        assert {r["audit_id"] for r in everything} == before | ours
        assert [r["at"] for r in everything] == sorted((r["at"] for r in everything), reverse=True)
        assert audit(customer_id="C1012", limit=1).json() == everything[:1]
        assert set(ids(audit(customer_id="C1012", until=started.isoformat(), limit=MAX_AUDIT_PAGE))) == before
        # A customer's key may not read the log; a filter that is not an instant is a 422 naming the field.
        assert audit(C1001).status_code == 403
        bad = audit(since="yesterday")
        assert bad.status_code == 422 and "since" in bad.json()["message"]
