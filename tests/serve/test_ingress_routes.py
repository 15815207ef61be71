"""The HTTP edge in-process: the real FastAPI app from serve.ingress.create_app, the real OssBss for the sandbox
routes, and the small FakePlanner (tests/unit/serve_fakes.py) standing in for the agents."""
import asyncio
import json

import httpx
import lancedb
import pyarrow as pa
import pytest
from pydantic import SecretStr

from actors.runtime.oss_bss import OssBss
from serve import sse
from serve.ingress import create_app
from serve_fakes import FakePlanner, Local
from telco.config import ApiKey, Limits, Settings

ADMIN, OPS, CUST = "admin-secret-1", "ops-secret-1", "cust-secret-1"
KEYS = [
    ApiKey(key=SecretStr(ADMIN), role="admin", name="root"),
    ApiKey(key=SecretStr(OPS), role="operations", name="ops"),
    ApiKey(key=SecretStr(CUST), role="customer", name="app-c1001", customer_id="C1001"),
    ApiKey(key=SecretStr("tight-secret-1"), role="operations", name="tight", rate_per_minute=3),
]


def auth(key):
    return {"Authorization": f"Bearer {key}"}


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def memory_dir(tmp_path):
    uri = tmp_path / "memory"
    lancedb.connect(uri).create_table("turns", pa.table({"turn_id": ["t0"]}))
    return str(uri)


@pytest.fixture
def env(memory_dir):
    planner, clock = FakePlanner(), Clock()
    settings = Settings(api_keys=KEYS, memory_uri=memory_dir,
                        limits=Limits(max_body_bytes=2048, max_message_chars=1000))
    app = create_app(Local(planner), Local(OssBss("demo")), settings, clock=clock)
    return planner, clock, app


def call(app, method, path, **kw):
    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.request(method, path, **kw)
    return asyncio.run(go())


def start(app, key=OPS, **body):
    r = call(app, "POST", "/v1/conversations", headers=auth(key), json=body)
    assert r.status_code == 201, r.text
    return r.json()["conversation_id"]


def test_conversation_round_trip(env):
    planner, _, app = env
    cid = start(app, customer_id="C1002", channel="app")
    r = call(app, "POST", f"/v1/conversations/{cid}/messages", headers=auth(OPS), json={"text": "internet drops"})
    assert r.status_code == 200
    turn = r.json()
    assert turn["conversation_id"] == cid and turn["mode"] == "offline"
    assert turn["customer_steps"] == [{"step_id": "restart_router", "instruction": "Turn the router off and on again."}]
    r = call(app, "GET", f"/v1/conversations/{cid}", headers={"X-API-Key": OPS})
    assert r.status_code == 200
    assert r.json()["customer_id"] == "C1002" and [t["customer"] for t in r.json()["turns"]] == ["internet drops"]
    r = call(app, "POST", f"/v1/conversations/{cid}/feedback", headers=auth(OPS), json={"csat": 5, "resolved": True})
    assert r.status_code == 200 and r.json() == {"conversation_id": cid, "recorded": True}
    assert planner.conversations[cid]["feedback"]["csat"] == 5


def test_a_conversation_can_start_with_an_empty_body(env):
    _, _, app = env
    r = call(app, "POST", "/v1/conversations", headers=auth(CUST))
    assert r.status_code == 201 and r.json()["customer_id"] == "C1001" and r.json()["channel"] == "chat"


@pytest.mark.parametrize("headers, problem", [
    ({}, "missing API key"),
    ({"Authorization": "Bearer nope-nope-nope"}, "API key not recognised"),
    ({"Authorization": f"Basic {OPS}"}, "Bearer <key>"),
])
def test_missing_or_unknown_keys_are_401(env, headers, problem):
    planner, _, app = env
    for method, path, body in [("POST", "/v1/conversations", {}), ("GET", "/v1/conversations/conv-0001", None),
                               ("POST", "/v1/conversations/conv-0001/messages", {"text": "hi"}),
                               ("GET", "/v1/admin/sandbox/world", None)]:
        r = call(app, method, path, headers=headers, json=body)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["code"] == "unauthorized" and problem in r.json()["message"]
        assert r.headers["www-authenticate"] == "Bearer"
    assert planner.conversations == {}


def test_a_customer_key_cannot_touch_another_customers_conversation(env):
    planner, _, app = env
    cid = start(app, OPS, customer_id="C1002")
    r = call(app, "POST", f"/v1/conversations/{cid}/messages", headers=auth(CUST), json={"text": "hi"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = call(app, "POST", "/v1/conversations", headers=auth(CUST), json={"customer_id": "C1002"})
    assert r.status_code == 403
    assert planner.turns == 0


def test_unknown_conversation_is_404(env):
    _, _, app = env
    r = call(app, "POST", "/v1/conversations/conv-9999/messages", headers=auth(OPS), json={"text": "hi"})
    assert r.status_code == 404
    assert r.json() == {"code": "not_found", "message": "conversation conv-9999 not found",
                        "details": {"conversation_id": "conv-9999"}}
    assert call(app, "GET", "/v1/conversations/conv-9999", headers=auth(OPS)).status_code == 404
    assert call(app, "GET", "/v1/nothing-here", headers=auth(OPS)).json()["code"] == "not_found"


@pytest.mark.parametrize("body, field, problem", [
    ({}, "text", "Field required"),
    ({"text": ""}, "text", "at least 1 character"),
    ({"text": "hi", "step_results": [{"step_id": "Restart Router!", "observation": {}}]},
     "step_results.0.step_id", "should match pattern"),
    ({"text": "hi", "step_results": [{"step_id": "restart_router"}]}, "step_results.0.observation", "Field required"),
    ({"text": "hi", "step_results": "done"}, "step_results", "valid list"),
    ({"text": "hi", "mood": "grumpy"}, "mood", "Extra inputs are not permitted"),
    ({"text": "x" * 1001}, "text", "at most 1000 characters"),
])
def test_invalid_messages_are_422_naming_the_field(env, body, field, problem):
    planner, _, app = env
    cid = start(app)
    r = call(app, "POST", f"/v1/conversations/{cid}/messages", headers=auth(OPS), json=body)
    assert r.status_code == 422, r.text
    out = r.json()
    assert out["code"] == "invalid_input"
    assert any(e["field"] == field and problem in e["problem"] for e in out["details"]["errors"]), out
    assert field in out["message"]
    assert planner.turns == 0


def test_malformed_json_is_422(env):
    _, _, app = env
    cid = start(app)
    r = call(app, "POST", f"/v1/conversations/{cid}/messages", headers={**auth(OPS), "content-type": "application/json"},
             content=b'{"text": "hi"')
    assert r.status_code == 422 and "not valid JSON" in r.json()["message"]


def test_bodies_over_the_limit_are_413_by_header_or_by_count(env):
    planner, _, app = env
    cid = start(app)
    big = json.dumps({"text": "x" * 900, "step_results": [{"step_id": "a", "observation": {"blob": "y" * 3000}}]})
    r = call(app, "POST", f"/v1/conversations/{cid}/messages", headers={**auth(OPS), "content-type": "application/json"},
             content=big)
    assert r.status_code == 413
    assert r.json()["code"] == "too_large" and "limit of 2048 bytes" in r.json()["message"]

    async def chunked():  # no Content-Length: only counting the bytes can catch it
        for i in range(0, len(big), 500):
            yield big[i:i + 500].encode()

    r = call(app, "POST", f"/v1/conversations/{cid}/messages", headers={**auth(OPS), "content-type": "application/json"},
             content=chunked())
    assert r.status_code == 413 and "over the limit of 2048 bytes" in r.json()["message"]
    assert planner.turns == 0


def test_rate_limit_per_key_is_429_with_retry_after(env):
    planner, clock, app = env
    cid = start(app)
    for i in range(3):
        clock.now = i
        r = call(app, "GET", f"/v1/conversations/{cid}", headers=auth("tight-secret-1"))
        assert r.status_code == 200
    clock.now = 10
    r = call(app, "POST", f"/v1/conversations/{cid}/messages", headers=auth("tight-secret-1"), json={"text": "hi"})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "50" and r.json()["code"] == "rate_limited"
    assert call(app, "GET", f"/v1/conversations/{cid}", headers=auth(OPS)).status_code == 200  # other keys unaffected
    assert planner.turns == 0
    clock.now = 60
    assert call(app, "GET", f"/v1/conversations/{cid}", headers=auth("tight-secret-1")).status_code == 200


def test_sse_when_the_client_asks_for_it(env):
    _, _, app = env
    cid = start(app)
    r = call(app, "POST", f"/v1/conversations/{cid}/messages",
             headers={**auth(OPS), "Accept": "text/event-stream"}, json={"text": "internet drops"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse.parse_events(r.text)
    assert [n for n, _ in events][0] == "meta" and events[-1][0] == "done"
    assert {n for n, _ in events[1:-1]} == {"delta"} and len(events) >= 4
    done = events[-1][1]
    assert "".join(d["text"] for _, d in events[1:-1]) == done["reply"]
    assert events[0][1]["turn_id"] == done["turn_id"] and events[0][1]["status"] == "waiting_customer"


def test_sse_errors_come_back_as_plain_status_codes(env):
    _, _, app = env
    r = call(app, "POST", "/v1/conversations/conv-9999/messages",
             headers={**auth(OPS), "Accept": "text/event-stream"}, json={"text": "hi"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"


def test_probes(env, tmp_path):
    planner, _, app = env
    assert call(app, "GET", "/healthz").json() == {"status": "ok"}
    r = call(app, "GET", "/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready",
                                                 "checks": {"planner": "ok", "oss_bss": "ok", "memory": "ok"}}

    class Broken(FakePlanner):
        async def ping(self):
            raise ConnectionError("planner replica gone")

    settings = Settings(api_keys=KEYS, memory_uri=str(tmp_path / "missing"))
    app = create_app(Local(Broken()), Local(OssBss("demo")), settings)
    r = call(app, "GET", "/readyz")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert "planner replica gone" in checks["planner"] and checks["oss_bss"] == "ok"
    assert "does not exist" in checks["memory"]
    assert not (tmp_path / "missing").exists()  # the probe looks; it does not create


def test_sandbox_admin_drives_the_real_oss_bss(env):
    _, _, app = env
    admin = auth(ADMIN)
    r = call(app, "POST", "/v1/admin/sandbox/world", headers=admin, json={"fixture": "demo"})
    assert r.status_code == 200 and r.json()["customers"] >= 10
    r = call(app, "POST", "/v1/admin/sandbox/faults", headers=admin,
             json={"name": "airplane_mode_on", "customer_id": "C1001"})
    assert r.status_code == 200 and r.json()["fault"] == "airplane_mode_on"
    r = call(app, "POST", "/v1/admin/sandbox/customer-steps", headers=admin,
             json={"step_id": "check_status_bar", "customer_id": "C1001"})
    assert r.status_code == 200 and r.json()["airplane_mode"] is True
    r = call(app, "POST", "/v1/admin/sandbox/customer-steps", headers=admin,
             json={"step_id": "turn_off_airplane_mode", "customer_id": "C1001"})
    assert r.status_code == 200 and r.json()["airplane_mode"] is False
    world = call(app, "GET", "/v1/admin/sandbox/world", headers=admin)
    assert world.status_code == 200 and world.headers["content-type"] == "application/json"
    assert "C1001" in world.json()["customers"]
    faults = call(app, "GET", "/v1/admin/sandbox/faults", headers=admin).json()
    steps = call(app, "GET", "/v1/admin/sandbox/customer-steps", headers=admin).json()
    assert "router_overheating" in {f["name"] for f in faults}
    assert "restart_router" in {s["id"] for s in steps}


def test_sandbox_errors_and_access(env):
    _, _, app = env
    for key in (OPS, CUST):
        r = call(app, "GET", "/v1/admin/sandbox/faults", headers=auth(key))
        assert r.status_code == 403 and "needs an admin key" in r.json()["message"]
    admin = auth(ADMIN)
    r = call(app, "POST", "/v1/admin/sandbox/faults", headers=admin, json={"name": "no_such_fault", "customer_id": "C1001"})
    assert r.status_code == 422 and "no_such_fault" in r.json()["message"]
    r = call(app, "POST", "/v1/admin/sandbox/customer-steps", headers=admin,
             json={"step_id": "check_status_bar", "customer_id": "C9999"})
    assert r.status_code == 404 and "C9999" in r.json()["message"]
    r = call(app, "POST", "/v1/admin/sandbox/world", headers=admin, json={"fixture": "demo", "seed": 3})
    assert r.status_code == 422 and "not both" in r.json()["message"]
    r = call(app, "POST", "/v1/admin/sandbox/world", headers=admin, json={"customers": 5})
    assert r.status_code == 422 and "seed: Field required" in r.json()["message"]


def test_openapi_documents_every_route(env):
    _, _, app = env
    spec = call(app, "GET", "/openapi.json").json()
    assert set(spec["paths"]) >= {
        "/v1/conversations", "/v1/conversations/{conversation_id}/messages", "/v1/conversations/{conversation_id}",
        "/v1/conversations/{conversation_id}/feedback", "/healthz", "/readyz", "/v1/admin/sandbox/world",
        "/v1/admin/sandbox/faults", "/v1/admin/sandbox/customer-steps"}
    assert "text/event-stream" in spec["paths"]["/v1/conversations/{conversation_id}/messages"]["post"][
        "responses"]["200"]["content"]
    assert call(app, "GET", "/docs").status_code == 200
