"""The ingress on a real local Ray cluster and Serve, over real HTTP: auth, limits, errors crossing the deployment
boundary, SSE framing, probes and the sandbox admin routes.

The planner here is the small FakePlanner (tests/unit/serve_fakes.py) running as a Serve deployment, so these
tests are about the edge; the OSS/BSS is the real one. Whole conversations through the real agents are the
lead's end-to-end tests.
"""
import socket
import time

import httpx
import lancedb
import pyarrow as pa
import pytest
from pydantic import SecretStr

ray = pytest.importorskip("ray")
from ray import cloudpickle, serve  # noqa: E402

from actors.runtime.oss_bss import OssBss  # noqa: E402
from serve import sse  # noqa: E402
from serve.ingress import Ingress  # noqa: E402
from telco.config import ApiKey, Limits, Settings  # noqa: E402

# The fake lives in tests/support (on the path via tests/conftest.py); replicas cannot import it by name, so it
# travels by value.
import serve_fakes  # noqa: E402

pytestmark = pytest.mark.ray

ADMIN, OPS, CUST, TIGHT = "admin-secret-1", "ops-secret-1", "cust-secret-1", "tight-secret-1"
KEYS = [
    ApiKey(key=SecretStr(ADMIN), role="admin", name="root"),
    ApiKey(key=SecretStr(OPS), role="operations", name="ops"),
    ApiKey(key=SecretStr(CUST), role="customer", name="app-c1001", customer_id="C1001"),
    ApiKey(key=SecretStr(TIGHT), role="operations", name="tight", rate_per_minute=3),
]
APP = "ingress-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    memory = tmp_path_factory.mktemp("memory")
    lancedb.connect(memory).create_table("turns", pa.table({"turn_id": ["t0"]}))
    settings = Settings(api_keys=KEYS, memory_uri=str(memory), limits=Limits(max_body_bytes=2048))
    cloudpickle.register_pickle_by_value(serve_fakes)
    port = free_port()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        planner = serve.deployment(serve_fakes.FakePlanner).options(
            name="Planner", ray_actor_options={"num_cpus": 0.1}).bind()
        oss_bss = serve.deployment(OssBss).options(name="OssBss", ray_actor_options={"num_cpus": 0.1}).bind("demo")
        serve.run(Ingress.bind(planner, oss_bss, settings), name=APP, route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()
        cloudpickle.unregister_pickle_by_value(serve_fakes)


@pytest.fixture(scope="module")
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=30) as c:
        yield c


def planner_stats() -> dict:
    return serve.get_deployment_handle("Planner", app_name=APP).stats.remote().result()


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def start(client, key=OPS, **body) -> str:
    r = client.post("/v1/conversations", headers=auth(key), json=body)
    assert r.status_code == 201, r.text
    return r.json()["conversation_id"]


def test_probes_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"planner": "ok", "oss_bss": "ok", "memory": "ok"}
    assert client.get("/docs").status_code == 200
    assert "/v1/conversations" in client.get("/openapi.json").json()["paths"]


def test_a_turn_over_http(client):
    cid = start(client, customer_id="C1002")
    r = client.post(f"/v1/conversations/{cid}/messages", headers={"X-API-Key": OPS}, json={"text": "my wifi drops"})
    assert r.status_code == 200, r.text
    assert r.json()["conversation_id"] == cid and r.json()["mode"] == "offline"
    r = client.get(f"/v1/conversations/{cid}", headers=auth(OPS))
    assert [t["customer"] for t in r.json()["turns"]] == ["my wifi drops"]


def test_refusals_map_to_their_status_and_leave_no_turn(client):
    cid = start(client, customer_id="C1002")
    before = planner_stats()["turns"]
    cases = [
        ({}, {"text": "hi"}, 401, "unauthorized"),
        (auth("wrong-key-123"), {"text": "hi"}, 401, "unauthorized"),
        (auth(CUST), {"text": "hi"}, 403, "forbidden"),  # raised inside the planner replica, across Ray
        (auth(OPS), {"text": ""}, 422, "invalid_input"),
        (auth(OPS), {"text": "hi", "step_results": [{"step_id": "x", "observation": "lights on"}]}, 422,
         "invalid_input"),
    ]
    for headers, body, status, code in cases:
        r = client.post(f"/v1/conversations/{cid}/messages", headers=headers, json=body)
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
    r = client.post("/v1/conversations/conv-9999/messages", headers=auth(OPS), json={"text": "hi"})
    assert r.status_code == 404 and r.json()["details"] == {"conversation_id": "conv-9999"}
    r = client.post(f"/v1/conversations/{cid}/messages", headers=auth(OPS),
                    json={"text": "hi", "step_results": [{"step_id": "x", "observation": "lights on"}]})
    assert r.json()["details"]["errors"][0]["field"] == "step_results.0.observation"
    assert planner_stats()["turns"] == before


def test_oversized_bodies_are_413_through_the_proxy(client):
    cid = start(client)
    before = planner_stats()["turns"]
    big = ('{"text": "' + "x" * 3000 + '"}').encode()
    r = client.post(f"/v1/conversations/{cid}/messages", headers={**auth(OPS), "content-type": "application/json"},
                    content=big)
    assert r.status_code == 413 and r.json()["code"] == "too_large"

    def chunks():
        for i in range(0, len(big), 512):
            yield big[i:i + 512]

    r = client.post(f"/v1/conversations/{cid}/messages", headers={**auth(OPS), "content-type": "application/json"},
                    content=chunks())
    assert r.status_code == 413, r.text
    assert planner_stats()["turns"] == before


def test_rate_limit_is_429_with_retry_after(client):
    cid = start(client)
    codes = [client.get(f"/v1/conversations/{cid}", headers=auth(TIGHT)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get(f"/v1/conversations/{cid}", headers=auth(TIGHT))
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60


def test_sse_stream_framing(client):
    cid = start(client)
    headers = {**auth(OPS), "Accept": "text/event-stream"}
    with client.stream("POST", f"/v1/conversations/{cid}/messages", headers=headers, json={"text": "slow"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        raw = "".join(r.iter_text())
    assert raw.endswith("\n\n") and "\r" not in raw
    events = sse.parse_events(raw)
    names = [n for n, _ in events]
    assert names[0] == "meta" and names[-1] == "done" and set(names[1:-1]) == {"delta"}
    done = events[-1][1]
    assert "".join(d["text"] for _, d in events[1:-1]) == done["reply"]
    assert events[0][1]["turn_id"] == done["turn_id"] == f"{cid}-t1"


def test_sandbox_admin_over_http(client):
    admin = auth(ADMIN)
    assert client.post("/v1/admin/sandbox/world", headers=admin, json={"fixture": "demo"}).status_code == 200
    r = client.post("/v1/admin/sandbox/faults", headers=admin, json={"name": "airplane_mode_on", "customer_id": "C1003"})
    assert r.status_code == 200, r.text
    r = client.post("/v1/admin/sandbox/customer-steps", headers=admin,
                    json={"step_id": "check_status_bar", "customer_id": "C1003"})
    assert r.status_code == 200 and r.json()["airplane_mode"] is True
    r = client.post("/v1/admin/sandbox/faults", headers=admin, json={"name": "nope", "customer_id": "C1003"})
    assert r.status_code == 422 and "nope" in r.json()["message"]  # InvalidInput raised in the OssBss replica
    assert client.get("/v1/admin/sandbox/faults", headers=auth(OPS)).status_code == 403
    t0 = time.perf_counter()
    assert client.get("/v1/admin/sandbox/world", headers=admin).json()["customers"]
    assert time.perf_counter() - t0 < 5
