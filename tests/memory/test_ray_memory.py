"""Memory under a real local Ray cluster: concurrent writers, a writer killed mid-batch, a working-memory holder
killed mid-conversation, and the batched embedder deployment."""
from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from memory.store import connect  # noqa: E402
from memory.writer import Op, RayWriter, WriteAck, get_writer_actor, stop_writers  # noqa: E402
from memory.working import holder_actor_class  # noqa: E402
from memory_testkit import T0  # noqa: E402

pytestmark = pytest.mark.ray
ROOT = str(Path(__file__).resolve().parents[2])
HERE = str(Path(__file__).resolve().parent)
SUPPORT = str(Path(__file__).resolve().parents[1] / "support")


@pytest.fixture(scope="module", autouse=True)
def cluster():
    # Workers must import the repo's packages and this module (its remote functions are pickled by reference).
    path = os.pathsep.join(p for p in (ROOT, HERE, SUPPORT, os.environ.get("PYTHONPATH")) if p)
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR",
             runtime_env={"env_vars": {"PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}})
    yield
    try:
        from ray import serve

        serve.shutdown()
    except Exception:
        pass
    ray.shutdown()


@pytest.fixture
def uri(tmp_path):
    path = str(tmp_path / "m")
    yield path
    stop_writers(path)  # writer actors are detached: they would outlive the test otherwise


def example(key: str, writer_id: int) -> dict:
    return {"example_id": key, "intent": f"w{writer_id}", "text": f"written by {writer_id}", "source": "test"}


def episode(eid: str, customer: str = "CUST-1") -> dict:
    return {"episode_id": eid, "customer_id": customer, "summary": f"episode {eid}", "outcome": "resolved",
            "intents": ["broadband_drops"], "started_at": T0, "ended_at": T0}


@ray.remote(num_cpus=0)
def concurrent_writer(uri: str, writer_id: int, keys: list[str], shared_episodes: list[str]) -> int:
    w = RayWriter(uri)
    rnd = random.Random(writer_id)
    order = keys[:]
    rnd.shuffle(order)
    for i in range(0, len(order), 7):
        w.upsert("intent_examples", [example(k, writer_id) for k in order[i:i + 7]])
        w.append("episodes", [episode(f"w{writer_id}-{i}-{j}") for j in range(3)] +
                 [episode(e) for e in shared_episodes])
    return writer_id


def test_eight_concurrent_writers_lose_nothing_and_duplicate_nothing(uri):
    store = connect(uri)
    existing = [f"old-{i}" for i in range(40)]
    RayWriter(uri).upsert("intent_examples", [example(k, -1) for k in existing])
    new = [f"new-{i}" for i in range(40)]
    keys = existing + new
    shared = [f"shared-{i}" for i in range(4)]
    done = ray.get([concurrent_writer.remote(uri, w, keys, shared) for w in range(8)], timeout=180)
    assert sorted(done) == list(range(8))

    ex = store.table("intent_examples")
    ex.checkout_latest()
    rows = ex.to_arrow().to_pylist()
    ids = [r["example_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 80 and set(ids) == set(keys)
    assert all(r["intent"] != "w-1" for r in rows)  # every existing key was overwritten by some writer

    eps = store.table("episodes")
    eps.checkout_latest()
    eids = eps.to_arrow().column("episode_id").to_pylist()
    per_writer = len(range(0, len(keys), 7)) * 3
    assert len(eids) == len(set(eids)) == 8 * per_writer + len(shared)
    stats = ray.get(get_writer_actor(uri, "knowledge").stats.remote())
    assert stats["batches"] < stats["requests"], stats  # requests really were batched together


def test_killing_the_writer_mid_batch_keeps_acked_writes_and_applies_nothing_by_halves(uri):
    store = connect(uri)
    # A long gathering window keeps requests queued inside the actor when it dies.
    actor = get_writer_actor(uri, "episodes", max_wait_s=0.25)
    assert ray.get(actor.ping.remote()) == "episodes"
    refs: list = []

    def submit():
        for r in range(60):
            ops = [Op(table="episodes", kind="append", rows=[episode(f"req{r}-row{j}") for j in range(10)])]
            refs.append((r, actor.apply.remote(ops)))
            time.sleep(0.01)

    t = threading.Thread(target=submit)
    t.start()
    while not refs:
        time.sleep(0.005)
    ray.wait([refs[0][1]], timeout=30)  # the first batch is committed and acknowledged
    ray.kill(actor, no_restart=False)
    t.join()

    acked, failed = set(), set()
    for r, ref in refs:
        try:
            assert isinstance(ray.get(ref, timeout=60), WriteAck)
            acked.add(r)
        except ray.exceptions.RayError:
            failed.add(r)
    assert acked and failed, "the kill must land while requests were in flight"

    eps = store.table("episodes")
    eps.checkout_latest()
    present: dict[int, int] = {}
    for eid in eps.to_arrow().column("episode_id").to_pylist():
        r = int(eid.split("-")[0][3:])
        present[r] = present.get(r, 0) + 1
    assert all(present.get(r) == 10 for r in acked)  # every acknowledged write is there, whole
    assert all(n == 10 for n in present.values())  # no request is visible by halves

    # The restarted actor takes new writes, and a client retry of an unacked request is safe.
    retry = sorted(failed)[0]
    ack = RayWriter(uri).append("episodes", [episode(f"req{retry}-row{j}") for j in range(10)])
    assert ack.rows == 10
    eps.checkout_latest()
    assert eps.count_rows(f"episode_id LIKE 'req{retry}-%'") == 10


def test_killing_the_working_memory_holder_loses_no_conversation_state(uri):
    Holder = holder_actor_class()
    holder = Holder.options(max_restarts=0).remote(uri)
    ray.get(holder.record_turn.remote("conv-9", "customer", "my MMS won't send", customer_id="CUST-9",
                                      patch={"customer_id": "CUST-9", "intents": ["mms"]}))
    ray.get(holder.record_turn.remote("conv-9", "agent", "Let's check your APN", patch={
        "active_playbook": "mms", "active_step": "check_apn", "slots": {"line_id": "L-9"},
        "pending_customer_steps": ["send_test_mms"]}))
    before = ray.get(holder.get.remote("conv-9", "CUST-9"))
    ray.kill(holder, no_restart=True)
    deadline = time.monotonic() + 20
    with pytest.raises(ray.exceptions.RayActorError):  # the kill is asynchronous: wait until it has landed
        while time.monotonic() < deadline:
            ray.get(holder.get.remote("conv-9", "CUST-9"))
            time.sleep(0.05)

    replacement = Holder.remote(uri)
    assert ray.get(replacement.cached.remote()) == []
    after = ray.get(replacement.get.remote("conv-9", "CUST-9"))
    assert after == before
    assert after["active_step"] == "check_apn" and after["slots"] == {"line_id": "L-9"}
    assert [t["text"] for t in after["last_turns"]] == ["my MMS won't send", "Let's check your APN"]
    ray.kill(replacement, no_restart=True)


def test_a_restarted_incident_actor_picks_up_the_open_incidents(uri):
    from datetime import datetime, timezone

    from actors.operations.incidents import incident_actor, incident_config

    book = incident_actor(uri)
    at = datetime(2026, 11, 27, 9, tzinfo=timezone.utc)

    def report(customer: str) -> dict:
        return ray.get(book.report.remote({"area_id": "A-1", "service": "broadband", "customer_id": customer,
                                           "at": at, "outages": [{"id": "OUT-1", "cause": "fibre cut"}]}))

    opened = [report(f"C{n}") for n in range(incident_config().min_customers)][-1]
    assert opened["opened"] and opened["incident"] is not None
    def pid() -> int | None:
        try:
            return ray.get(book.__ray_call__.remote(lambda _: os.getpid()))
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            return None

    before = pid()
    ray.kill(book, no_restart=False)  # the process dies and Ray starts the actor again (max_restarts=-1)
    deadline = time.monotonic() + 30
    while pid() in (before, None):  # a call sent right after the kill may still reach the old process
        assert time.monotonic() < deadline, "the incident actor did not come back"
        time.sleep(0.1)
    still_open = ray.get(book.list.remote("open"))
    assert [i["incident_id"] for i in still_open] == [opened["incident"]["incident_id"]]
    assert report("C99")["incident"]["customers"][-1] == "C99"  # a later customer of the area is told at once
    ray.kill(book, no_restart=True)


def test_embedder_deployment_batches_concurrent_requests(embedder):
    from ray import serve

    from memory.embed import build_embedder_app

    handle = serve.run(build_embedder_app(num_cpus=0, max_replicas=1, batch_wait_timeout_s=0.05),
                       name="embedder-test", route_prefix=None)
    texts = [f"my router restarted {i} times today" for i in range(24)]
    responses = [handle.remote(t) for t in texts]
    vecs = np.array([r.result(timeout_s=120) for r in responses], dtype=np.float32)
    assert vecs.shape == (24, 384)
    assert np.allclose(vecs, embedder.embed(texts), atol=1e-4)
    stats = handle.stats.remote().result(timeout_s=30)
    assert stats["max_batch"] > 1
    serve.delete("embedder-test")
