"""The whole system stopped in the middle of conversations and started again (issue 15, item 6): `telco down`,
and separately a kill -9 of every process of the Ray head, each followed by `telco up` over the same memory.

Clients keep talking through both (resending a message that failed, with its client_message_id). After each
restart: every acknowledged turn is in the turns log exactly once, conversations go on from their state (the next
turn's number follows the last one; a conversation with a person stays with the person), and the open hand-off and
the open area incident are still there. The sandbox world (hand-offs, outages, account changes) is kept in memory
by the OssBss service (actors/runtime/world_keeper.py); incidents by the incident actor (area_incidents).

One module, three app starts (`telco up` three times), run as the `telco` command in a subprocess with its own
state folder, Ray folder (RAY_TMPDIR), Serve port and GCS port: another Ray on the machine is left alone."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

ray = pytest.importorskip("ray")

from durability_kit import Talk, check_log
from live_kit import (
    ADMIN,
    OPS,
    OUTAGE_CUSTOMERS,
    OUTAGE_SEED,
    api_keys_json,
    h,
    outage_customers,
    outage_key,
)

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SCRIPT = ["my mobile data is not working", "I already restarted the phone", "it still does not work",
          "what is the roaming policy in the EU?", "thanks"]


def free_port() -> int:
    from serve.local_app import free_port as free

    return free()


def telco(env: dict, *args: str, timeout_s: float = 900) -> str:
    done = subprocess.run([sys.executable, "-m", "cli.main", *args], env=env, capture_output=True, text=True,
                          check=False, timeout=timeout_s, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, f"telco {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def descendants(pid: int) -> list[int]:
    """Every process under `pid` and every process of its session (Ray's own processes), from /proc."""
    children: dict[int, list[int]] = {}
    session: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child, ppid, sid = int(entry.name), int(fields[1]), int(fields[3])
        children.setdefault(ppid, []).append(child)
        if sid == pid:
            session.append(child)
    found, todo = set(session), [pid]
    while todo:
        p = todo.pop()
        found.add(p)
        todo.extend(c for c in children.get(p, []) if c not in found)
    return sorted(found)


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    started = time.monotonic()
    home = tmp_path_factory.mktemp("restart")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELCO_", "RAY_"))}
    env.update({"XDG_STATE_HOME": str(home / "state"), "TELCO_MEMORY_URI": str(home / "memory"),
                "TELCO_SERVE__PORT": str(port), "TELCO_API_KEYS": api_keys_json(),
                "TELCO_LIMITS__RATE_PER_MINUTE": "100000", "OMP_NUM_THREADS": "1",
                # Ray's own folder for this head: `ray start` records its address there, and `telco up` looks
                # there for a running head, so another Ray on this machine (a developer's test cluster, which
                # records itself in /tmp/ray) is neither joined nor mistaken for ours. Short: Ray's socket paths
                # live under it.
                "RAY_TMPDIR": tempfile.mkdtemp(prefix="rr-", dir="/tmp")})
    up_args = ("up", "--port", str(free_port()), "--dashboard-port", str(free_port()), "--timeout", "400")
    system = {"url": f"http://127.0.0.1:{port}", "uri": str(home / "memory"), "env": env, "up": up_args,
              "state": home / "state" / "telco-agents" / "up.json", "starts": []}
    try:  # a first start that fails or times out still leaves its head behind
        t = time.monotonic()
        telco(env, *up_args)
        system["starts"].append(round(time.monotonic() - t))
        yield system
    finally:
        try:
            telco(env, "down", timeout_s=120)
        finally:
            state = json.loads(system["state"].read_text()) if system["state"].exists() else {}
            for p in descendants(int(state["pid"])) if state.get("pid") else []:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)
            print(f"\nrestart module wall time: {time.monotonic() - started:.0f} s; telco up took {system['starts']} s")


def ok(response: httpx.Response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def restart(system: dict, how: str) -> None:
    env = system["env"]
    if how == "down":
        telco(env, "down", timeout_s=180)
    else:
        pid = json.loads(system["state"].read_text())["pid"]
        for p in descendants(pid):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    t = time.monotonic()
    telco(env, *system["up"])
    system["starts"].append(round(time.monotonic() - t))


def wait_for(check, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_acknowledged_turns_handoffs_and_incidents_survive_down_and_kill(system):
    url, uri = system["url"], system["uri"]
    area, customers = outage_customers()
    http = httpx.Client(base_url=url, timeout=120)
    ok(http.post("/v1/admin/sandbox/world", headers=h(ADMIN), json={"seed": OUTAGE_SEED,
                                                                       "customers": OUTAGE_CUSTOMERS}))
    ok(http.post("/v1/admin/sandbox/faults", headers=h(ADMIN),
                 json={"name": "access_node_outage", "customer_id": customers[0]}))
    for c in customers[:3]:  # the third report opens the area incident
        cid = ok(http.post("/v1/conversations", headers=h(outage_key(c)), json={}), 201)["conversation_id"]
        ok(http.post(f"/v1/conversations/{cid}/messages", headers=h(outage_key(c)),
                     json={"text": "my internet keeps dropping all the time"}))
    incident = ok(http.get("/v1/ops/incidents", headers=h(OPS)))[0]
    assert incident["status"] == "open" and incident["area_id"] == area
    waiting = customers[3]
    with_person = ok(http.post("/v1/conversations", headers=h(outage_key(waiting)), json={}), 201)["conversation_id"]
    handed = ok(http.post(f"/v1/conversations/{with_person}/messages", headers=h(outage_key(waiting)),
                          json={"text": "I want to speak to a real person please"}))
    assert handed["status"] == "handed_off"
    hid = handed["handoff"]["handoff_id"]

    # Four conversations of five turns. Before `telco down` each has had two (they wait there: down is graceful,
    # what matters is that they go on after it); the kill -9 comes while they talk, so turns are cut off in flight
    # and their clients resend them, with the same client_message_id, to the restarted system. Patience for a
    # turn covers a restart on a loaded machine.
    conversations = 4
    talk = Talk(url, OPS, [list(SCRIPT) for _ in range(conversations)], turn_deadline_s=900, pause_at=2)
    talk.open(http)
    talk.start()
    total = conversations * len(SCRIPT)
    for n, (how, after) in enumerate((("down", 2 * conversations), ("kill9", total * 3 // 5))):
        wait_for(lambda after=after: talk.count() >= after or talk.errors)
        assert not talk.errors, talk.errors
        retries = talk.retries
        restart(system, how)
        http = httpx.Client(base_url=url, timeout=120)
        # Still there: the hand-off waiting for a person, the area's open incident, every acknowledged turn.
        queued = ok(http.get("/v1/handoffs", headers=h(OPS), params={"status": "queued"}))
        assert hid in [q["handoff_id"] for q in queued], (how, queued)
        incidents = ok(http.get("/v1/ops/incidents", headers=h(OPS), params={"status": "open"}))
        assert [i["incident_id"] for i in incidents] == [incident["incident_id"]], (how, incidents)
        check_log(uri, talk, settled=how == "down")  # the kill cut turns off: their resends may be unanswered yet
        # The conversation with the person goes on with the person: its state came back from the log.
        again = ok(http.post(f"/v1/conversations/{with_person}/messages", headers=h(outage_key(waiting)),
                             json={"text": "hello, is anyone there?", "client_message_id": f"wait-{how}"}))
        assert again["status"] == "handed_off" and again["turn_id"] == f"{with_person}:{n + 2:05d}", again
        if how == "down":
            talk.resume()
        else:  # turns were left to send when the head was killed: they failed until it was back
            assert talk.retries > retries, "no turn was sent while the system was down"
    talk.join(timeout_s=900)
    assert not talk.errors, talk.errors
    figures = check_log(uri, talk)
    assert figures["acknowledged"] == total
    for cid in talk.conversation_ids:
        turns = ok(http.get(f"/v1/conversations/{cid}", headers=h(OPS)))["turns"]
        assert [t["turn_id"] for t in turns] == [f"{cid}:{n:05d}" for n in range(1, len(SCRIPT) + 1)]
    print(f"\nrestart: {figures}; telco up took {system['starts']} s")
