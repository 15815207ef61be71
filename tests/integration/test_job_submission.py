"""A learning job submitted to a real local Ray cluster through the job server, checked in memory afterwards."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from memory.procedural import ProceduralMemory
from memory.store import connect
from memory.writer import LocalWriter
from serve.local_app import free_port
from telco.playbooks import load_playbooks

ROOT = Path(__file__).resolve().parents[2]
STEPS = [{"name": "get_line_status", "kind": "tool", "result": {"status": "active"}, "ok": True},
         {"name": "turn_on_mobile_data", "kind": "customer_step", "result": {"data_active": True}, "ok": True}]


def seed_memory(uri: str, n: int) -> None:
    from datetime import datetime, timedelta, timezone

    store = connect(uri)
    writer = LocalWriter(store)
    ProceduralMemory(store, writer).load_playbooks(load_playbooks().values())
    version = load_playbooks()["mobile_data"].version
    t0 = datetime(2026, 11, 2, 8, tzinfo=timezone.utc)
    writer.upsert("episodes", [{
        "episode_id": f"ep-{i}", "customer_id": "C1001", "conversation_id": f"conv-{i}",
        "summary": "mobile data resolved after 3 turns", "intents": ["mobile_data"],
        "playbook": "mobile_data", "playbook_version": version,
        "intent": "mobile_data", "service_type": "mobile", "steps": json.dumps(STEPS), "outcome": "resolved",
        "started_at": t0 + timedelta(minutes=i), "ended_at": t0 + timedelta(minutes=i + 2)} for i in range(n)])


@pytest.fixture(scope="module")
def job_server():
    import ray

    port = free_port()
    ray.init(address="local", include_dashboard=True, dashboard_host="127.0.0.1", dashboard_port=port,
             num_cpus=2, logging_level="ERROR", log_to_driver=False)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        ray.shutdown()


def wait_for(client, job_id: str, timeout_s: float = 240):
    from ray.job_submission import JobStatus

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get_job_status(job_id)
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
            return status
        time.sleep(1)
    raise AssertionError(f"job {job_id} still {status} after {timeout_s}s:\n{client.get_job_logs(job_id)[-2000:]}")


def test_a_submitted_learn_job_updates_memory(job_server, tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    uri = str(tmp_path / "memory")
    seed_memory(uri, 12)
    client = JobSubmissionClient(job_server)
    # The same shape as `ray job submit --working-dir . -- python -m jobs.learn`; this venv's python runs it.
    job_id = client.submit_job(
        entrypoint=f"{sys.executable} -m jobs.learn --memory-uri {uri} --no-examples",
        runtime_env={"working_dir": str(ROOT), "excludes": [".venv", "var", ".git", "*.lance", "__pycache__"],
                     "env_vars": {"OMP_NUM_THREADS": "1"}})
    status = wait_for(client, job_id)
    logs = client.get_job_logs(job_id)
    assert status == JobStatus.SUCCEEDED, logs[-3000:]
    summary = json.loads(logs.strip().splitlines()[-1])
    assert summary["job"] == "learn" and summary["episodes"] == 12

    store = connect(uri)
    stats = ProceduralMemory(store, LocalWriter(store)).stats("mobile_data", load_playbooks()["mobile_data"].version)
    assert (stats.runs, stats.resolved) == (12, 12)
    assert store.table("learned_episodes").count_rows() == 12
