"""The web pages without a cluster: headers, role checks on the page request, the session route, the metrics sums."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from serve.ingress import create_app
from serve.ops_metrics import percentile, summarise


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(None, None))


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("path", ["/chat", "/desk", "/ops"])
def test_pages_carry_a_strict_csp_and_no_inline_script(client, path):
    r = client.get(path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert "<script>" not in r.text  # every script is a file under /static
    assert 'src="/static/common.js"' in r.text


def test_api_docs_keep_their_own_headers(client):
    assert "content-security-policy" not in client.get("/docs").headers


@pytest.mark.parametrize("path", ["/desk", "/ops"])
def test_a_customer_key_sent_with_the_page_gets_a_403_page(client, path):
    r = client.get(path, headers=auth("dev-customer-c1001-key"))
    assert r.status_code == 403 and "403" in r.text and "customer" in r.text
    assert client.get(path, headers=auth("dev-operations-key")).status_code == 200


def test_session_says_who_the_key_is_and_which_screens_it_opens(client):
    body = client.get("/v1/session", headers=auth("dev-customer-c1001-key")).json()
    assert body == {"key_id": "dev-customer-c1001", "role": "customer", "customer_id": "C1001", "screens": ["chat"]}
    assert client.get("/v1/session").status_code == 401


def test_the_demo_chat_gets_the_development_admin_key_only(client, monkeypatch):
    assert 'name="telco-demo-admin-key"' in client.get("/chat").text
    from telco.config import Settings

    keys = json.dumps([{"key": "k" * 30, "role": "admin", "name": "a"}])
    monkeypatch.setenv("TELCO_API_KEYS", keys)
    other = TestClient(create_app(None, None, Settings()))
    assert "telco-demo-admin-key" not in other.get("/chat").text


def test_kb_sections_have_their_citation_anchor(client):
    r = client.get("/kb/broadband-keeps-dropping")
    assert r.status_code == 200 and 'class="kb-section"' in r.text
    assert client.get("/kb/no-such-doc").status_code == 404


def test_metrics_need_an_operations_key(client):
    assert client.get("/v1/ops/metrics", headers=auth("dev-customer-c1001-key")).status_code == 403


def _row(conv: str, seq: int, status: str, mode: str = "offline", ms: float = 100, **extra) -> dict:
    turn = {"turn_id": f"{conv}:{seq:05d}", "conversation_id": conv, "reply": "r", "mode": mode, "status": status,
            "trace": {"latency_ms": ms, "mode": mode, **extra.pop("trace", {})}, **extra}
    return {"trace": json.dumps(turn)}


def test_summarise_counts_turns_modes_outcomes_and_leaves_out_people():
    rows = [_row("a", 1, "open", ms=100), _row("a", 2, "resolved", ms=300),
            _row("b", 1, "handed_off", mode="degraded", ms=900, trace={"error": {"agent": "x", "type": "T",
                                                                                 "message": "m"}}),
            _row("b", 2, "handed_off", informed=["person_reply"]),
            _row("c", 1, "open", mode="llm", trace={"llm_calls": [{"agent": "dialogue", "model": "m",
                                                                   "input_tokens": 10, "output_tokens": 5,
                                                                   "cost_usd": 0.01}]})]
    m = summarise(rows, 300, [])
    assert m.turns == 4 and m.person_replies == 1 and m.conversations == 3
    assert m.latency_p50_ms == 100 and m.latency_p95_ms == 900
    assert m.error_rate == 0.25 and m.degraded_rate == 0.25 and m.tokens == 15 and m.cost_usd == 0.01
    assert m.mode_shares == {"degraded": 0.25, "llm": 0.25, "offline": 0.5}
    assert m.resolution_rate == round(1 / 3, 4) and m.handover_rate == round(1 / 3, 4)


def test_percentile_is_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3, 1, 2], 0.5) == 2 and percentile(list(range(1, 101)), 0.95) == 95


def test_make_run_lists_the_three_screens():
    from serve.urls import screen_urls
    from telco.config import Settings

    lines = screen_urls(Settings())
    assert [line.split()[-4].rsplit("/", 1)[1] for line in lines] == ["chat", "desk", "ops"]


class _Remote:
    def __init__(self, fn):
        self.remote = fn


class _FakeOssBss:
    """Only what the desk's customer route calls: the typed read tool, on the demo world."""

    def __init__(self):
        from actors.runtime.oss_bss import OssBss

        self.service = OssBss("demo")
        self.call_tool = _Remote(self.service.call_tool)


def test_the_desk_reads_a_customers_account_with_an_operations_key():
    client = TestClient(create_app(None, _FakeOssBss()))
    r = client.get("/v1/ops/customers/C1001", headers=auth("dev-operations-key"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["customer_id"] == "C1001" and body["name"] and body["broadband"]
    assert client.get("/v1/ops/customers/C1001", headers=auth("dev-customer-c1001-key")).status_code == 403
    assert client.get("/v1/ops/customers/C9999999", headers=auth("dev-operations-key")).status_code == 404


def test_the_console_shows_the_newest_logged_decision_of_an_experiment():
    from serve.ops_metrics import last_decisions

    class _Table:
        def search(self):
            return self

        def limit(self, _):
            return self

        def to_list(self):
            history = [{"at": "2026-12-01T10:00:00", "experiment": "e1", "decision": {"promote": False, "reason": "few"}},
                       {"at": "2026-12-02T10:00:00", "experiment": "e1",
                        "decision": {"promote": True, "reason": "better", "control_rate": 0.5}},
                       {"at": "2026-12-03T10:00:00", "experiment": "e1"}]  # a start entry: no decision
            return [{"job": "prompt_eval", "state": json.dumps({"history": history})}]

    class _Store:
        def table(self, _):
            return _Table()

    assert last_decisions(_Store()) == {"e1": {"at": "2026-12-02T10:00:00", "promote": True, "reason": "better",
                                               "control_rate": 0.5}}
