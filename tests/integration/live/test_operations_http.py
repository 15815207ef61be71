"""Operations over HTTP on one real app (local Ray cluster, Serve, LanceDB on disk, the embedding model):
the handoff round trip, an area outage with ten customers, alerts from an injected slowdown and error burst,
and the turn metrics on the Ray metrics endpoint. Offline mode."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import httpx
import pytest

ray = pytest.importorskip("ray")

from live_kit import ADMIN, C1001, OPS, OUTAGE_AFFECTED, OUTAGE_CUSTOMERS, OUTAGE_SEED, outage_customers, outage_key  # noqa: E402

from actors.operations.monitor import MonitorConfig  # noqa: E402
from memory.store import connect  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ok(response: httpx.Response, status: int = 200) -> dict | list:
    assert response.status_code == status, response.text
    return response.json()


def say(http: httpx.Client, key: str, text: str, conversation_id: str | None = None) -> tuple[str, dict]:
    if conversation_id is None:
        conversation_id = ok(http.post("/v1/conversations", headers=h(key), json={}), 201)["conversation_id"]
    out = ok(http.post(f"/v1/conversations/{conversation_id}/messages", headers=h(key), json={"text": text}))
    return conversation_id, out


def eventually(fn, timeout_s: float = 45.0, every_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while True:
        found = fn()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(every_s)


# ---- the human handoff queue ----------------------------------------------------------------------------------
def test_handoff_round_trip(app, http):
    ok(http.post("/v1/admin/sandbox/world", headers=h(ADMIN), json={"fixture": "demo"}))
    cid, out = say(http, C1001, "I want to speak to a real person please")
    assert out["status"] == "handed_off" and out["handoff"]["handoff_id"]
    hid = out["handoff"]["handoff_id"]

    assert http.get("/v1/handoffs", headers=h(C1001)).status_code == 403  # not for customers
    queued = ok(http.get("/v1/handoffs", headers=h(OPS), params={"status": "queued"}))
    mine = [q for q in queued if q["handoff_id"] == hid]
    assert mine and mine[0]["conversation_id"] == cid and mine[0]["customer_id"] == "C1001"

    # Replying before claiming is refused; a second person cannot take a claimed handoff.
    assert http.post(f"/v1/handoffs/{hid}/reply", headers=h(OPS), json={"text": "hi"}).status_code == 409
    claimed = ok(http.post(f"/v1/handoffs/{hid}/claim", headers=h(OPS), json={"person": "dana"}))
    assert claimed["status"] == "claimed" and claimed["claimed_by"] == "dana"
    assert http.post(f"/v1/handoffs/{hid}/claim", headers=h(OPS), json={"person": "sam"}).status_code == 409

    # The customer writes while waiting: recorded, and the person sees it.
    _, waiting = say(http, C1001, "are you still there? my bill looks wrong", cid)
    assert waiting["status"] == "handed_off"
    detail = ok(http.get(f"/v1/handoffs/{hid}", headers=h(OPS)))
    assert "my bill looks wrong" in [t["customer"] for t in detail["conversation"]["turns"]][-1]

    reply = ok(http.post(f"/v1/handoffs/{hid}/reply", headers=h(OPS), params={"person": "dana"},
                         json={"text": "Hello, this is Dana. I have corrected your bill."}))
    assert reply["trace"]["agents"][0]["agent"] == "person" and reply["mode"] == "person"  # not a brain's reply
    seen = ok(http.get(f"/v1/conversations/{cid}", headers=h(C1001)))
    assert seen["turns"][-1]["reply"] == "Hello, this is Dana. I have corrected your bill."

    done = ok(http.post(f"/v1/handoffs/{hid}/resolve", headers=h(OPS), params={"person": "dana"},
                        json={"outcome": "resolved", "note": "bill corrected"}))
    assert done["status"] == "resolved" and done["outcome"] == "resolved"
    episodes = connect(app["uri"]).table("episodes").search().where("customer_id = 'C1001'").limit(1000).to_list()
    ep = [e for e in episodes if e["episode_id"] == f"{cid}:handoff:{hid}"]
    assert ep and ep[0]["outcome"] == "resolved" and "bill corrected" in ep[0]["summary"]

    # The conversation goes on with the agents.
    _, after = say(http, C1001, "thanks! also my internet keeps dropping", cid)
    assert after["status"] != "handed_off" and after["intents"]
    assert http.post(f"/v1/handoffs/{hid}/resolve", headers=h(OPS), params={"person": "dana"},
                     json={}).status_code == 409


def test_a_transfer_while_ticketing_is_down_still_reaches_a_person(app, http):
    ok(http.post("/v1/admin/sandbox/world", headers=h(ADMIN), json={"fixture": "demo"}))
    try:
        ok(http.post("/v1/admin/sandbox/chaos", headers=h(ADMIN), json={"unavailable": ["crm"]}))
        _, out = say(http, C1001, "I want to speak to a real person please")
    finally:
        ok(http.post("/v1/admin/sandbox/chaos", headers=h(ADMIN), json={}))
    assert out["status"] == "handed_off" and "customer support team" in out["reply"], out["reply"]
    queued = ok(http.get("/v1/handoffs", headers=h(OPS), params={"status": "queued"}))
    assert out["handoff"]["handoff_id"] in [item["handoff_id"] for item in queued]


# ---- an area outage ---------------------------------------------------------------------------------------------
def test_area_outage_with_ten_customers(app, http):
    area, customers = outage_customers()
    ok(http.post("/v1/admin/sandbox/world", headers=h(ADMIN), json={"seed": OUTAGE_SEED,
                                                                       "customers": OUTAGE_CUSTOMERS}))
    ok(http.post("/v1/admin/sandbox/faults", headers=h(ADMIN),
                 json={"name": "access_node_outage", "customer_id": customers[0]}))
    outs = [say(http, outage_key(c), "my internet keeps dropping all the time")[1] for c in customers]

    told = [i for i, o in enumerate(outs) if "area_incident" in o["informed"]]
    opened_by = 2  # the third report within the window opens it (telco/data/incidents.yaml min_customers: 3)
    assert told == list(range(opened_by, OUTAGE_AFFECTED)), [o["reply"][:80] for o in outs]
    for o in outs[opened_by + 1:]:
        assert "network problem in your area" in o["reply"][:200]  # told at the start of the reply
        assert {t["name"] for t in o["trace"]["tools"]} == {"get_customer_details", "get_network_status"}
        assert not o["customer_steps"] and o["trace"]["playbook"] is None  # no troubleshooting

    incidents = ok(http.get("/v1/ops/incidents", headers=h(OPS)))
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc["status"] == "open" and inc["area_id"] == area and sorted(inc["customers"]) == sorted(customers)
    assert inc["outage_ids"]  # linked to the network's own record of the failed node

    ok(http.post(f"/v1/admin/sandbox/areas/{area}/restore", headers=h(ADMIN)))
    closed = ok(http.get("/v1/ops/incidents", headers=h(OPS)))
    assert [(i["incident_id"], i["status"]) for i in closed] == [(inc["incident_id"], "closed")]
    # After recovery a customer of the area is troubleshot as usual again.
    _, later = say(http, outage_key(customers[0]), "my internet keeps dropping")
    assert "area_incident" not in later["informed"] and later["trace"]["playbook"]


# ---- alerts from an injected slowdown and an error burst --------------------------------------------------------
def test_slowdown_and_error_burst_raise_the_right_alerts(app, http):
    cfg = MonitorConfig.load()
    # A new world starts the monitor afresh: its window holds this drill's turns alone, so the shared app's earlier
    # traffic neither dilutes the burst nor holds its alerts back as repeats of an earlier drill's.
    ok(http.post("/v1/admin/sandbox/world", headers=h(ADMIN), json={"fixture": "demo"}))
    started = datetime.now(timezone.utc)
    for _ in range(cfg.min_samples):  # healthy turns first: from here on the window is judged
        say(http, C1001, "my internet keeps dropping")
    try:
        # One slow turn is enough: the 95th percentile of a window of up to 20 turns is its slowest.
        ok(http.post("/v1/admin/sandbox/chaos", headers=h(ADMIN), json={"latency_ms": 1200}))
        slow = say(http, C1001, "my internet keeps dropping")[1]
        assert slow["trace"]["latency_ms"] > 3000
        ok(http.post("/v1/admin/sandbox/chaos", headers=h(ADMIN), json={"unavailable": ["oss"]}))
        down = [say(http, C1001, "my internet keeps dropping")[1] for _ in range(3)]
    finally:
        ok(http.post("/v1/admin/sandbox/chaos", headers=h(ADMIN), json={}))

    # The network systems down: a plain degraded answer and a ticket, never an error page.
    world = ok(http.get("/v1/admin/sandbox/world", headers=h(ADMIN)))
    for o in down:
        assert o["mode"] == "degraded" and "backend_unavailable_ticket" in o["informed"], o["reply"]
        ticket = o["reply"].split("ticket ")[1].split(" ")[0]
        assert ticket in world["tickets"] and world["tickets"][ticket]["customer_id"] == "C1001"
        assert "not reachable" in o["reply"]

    want = {("planner", "response_time_s", "critical"), ("technical", "response_time_s", "critical"),
            ("oss_bss", "error_rate", "critical"), ("planner", "error_rate", "critical")}

    def raised() -> list[dict]:  # this drill's alerts: the list also keeps the earlier modules'
        return [a for a in ok(http.get("/v1/ops/alerts", headers=h(OPS)))
                if datetime.fromisoformat(a["at"]) >= started]

    def found():
        alerts = raised()
        return alerts if want <= {(a["agent"], a["metric"], a["severity"]) for a in alerts} else None

    alerts = eventually(found, timeout_s=20)
    assert alerts, raised()
    for a in alerts:
        assert a["window_s"] == cfg.window_s and a["samples"] >= cfg.min_samples
        if a["metric"] in cfg.limits:
            assert cfg.limits[a["metric"]].severity(a["value"]) == a["severity"], a
    assert http.get("/v1/ops/alerts", headers=h(C1001)).status_code == 403
    ids = {a["alert_id"] for a in alerts}

    def stored() -> bool:
        return ids <= {r["alert_id"] for r in connect(app["uri"]).table("ops_alerts").search().limit(None).to_list()}

    assert eventually(stored, timeout_s=20), "the alerts were not appended to ops_alerts"


# ---- metrics on the Ray metrics endpoint ------------------------------------------------------------------------
def scrape() -> dict[str, list]:
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, list] = {}
    for node in ray.nodes():
        port = node.get("MetricsExportPort")
        if not node.get("Alive") or not port:
            continue
        text = httpx.get(f"http://{node['NodeManagerAddress']}:{port}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            families.setdefault(family.name, []).extend(family.samples)
    return families


def test_turn_metrics_reach_the_ray_metrics_endpoint(app, http):
    # Several turns, so every planner replica alive now has recorded one (a replica's series leave with it).
    for _ in range(3):
        say(http, C1001, "my internet keeps dropping")

    def exported():
        f = scrape()
        return f if {"ray_telco_turns", "ray_telco_agent_latency_ms", "ray_telco_intent_confidence"} <= set(f) else None

    families = eventually(exported, timeout_s=90, every_s=2)
    assert families, sorted(n for n in scrape() if "telco" in n)
    names = {s.name for samples in families.values() for s in samples}
    assert {"ray_telco_turns_total", "ray_telco_agent_latency_ms_bucket", "ray_telco_intent_confidence_bucket"} <= names
    turns = sum(s.value for s in families["ray_telco_turns"] if s.name.endswith("_total") or s.name == "ray_telco_turns")
    assert turns >= 1
    agents = {s.labels.get("agent") for s in families["ray_telco_agent_latency_ms"]}
    assert {"intent", "technical", "dialogue"} <= agents
