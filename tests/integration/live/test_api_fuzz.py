"""API fuzzing against the live app (issue 15, item 1): schemathesis over HTTP with every check, the stateful phase
(the OpenAPI links), every operation of the document (the admin sandbox routes included), once per role's key.

The result must be: no server error, no response that breaks its schema, no status the document does not declare
for that operation, valid requests accepted and invalid ones refused. The run is bounded by the examples per
operation (FUZZ_EXAMPLES; TELCO_FUZZ_EXAMPLES to raise it, TELCO_FUZZ_SEED to explore other cases) and by the
schema itself: a generated world has at most MAX_WORLD_CUSTOMERS customers, and a fuzzed chaos drill is undone
at once (fuzz_hooks.py). The world and the drills are left as the other modules expect: the demo world, no chaos.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from live_kit import ADMIN, C1001, OPS, h

FUZZ_EXAMPLES = int(os.environ.get("TELCO_FUZZ_EXAMPLES", "4"))
FUZZ_SEED = os.environ.get("TELCO_FUZZ_SEED", "20261207")
HERE = Path(__file__).parent


def _schemathesis(url: str, key: str, report: Path) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).parent / "schemathesis"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_hooks", "PYTHONPATH": str(HERE),
           "TELCO_FUZZ_URL": url, "TELCO_FUZZ_ADMIN_KEY": ADMIN}
    return subprocess.run(
        # The key in both headers the API reads: a generated value in the other one would only test the
        # "two different keys" refusal and never reach the operation.
        [str(cli), "--config-file", str(HERE / "schemathesis.toml"), "run", f"{url}/openapi.json",
         "--header", f"Authorization: Bearer {key}", "--header", f"X-API-Key: {key}",
         "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
         "--max-examples", str(FUZZ_EXAMPLES), "--seed", FUZZ_SEED, "--workers", "1",
         # Latency is not what this run measures (bench/ does): a turn on a loaded machine may take seconds.
         "--request-timeout", "120", "--max-response-time", "120", "--no-color",
         "--report", "ndjson", "--report-dir", str(report)],
        # Run in the report's directory: schemathesis keeps its example cache in the working directory.
        env=env, cwd=report, capture_output=True, text=True, timeout=1200)


def _statuses(report: Path) -> dict[str, set[int]]:
    """Every status the app answered, by operation, from the run's NDJSON report."""
    seen: dict[str, set[int]] = {}
    for path in report.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            finished = json.loads(line).get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            for interaction in recorder.get("interactions", {}).values():
                if interaction.get("response"):
                    seen.setdefault(recorder["label"], set()).add(interaction["response"]["status_code"])
    return seen


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.parametrize("role,key", [("admin", ADMIN), ("operations", OPS), ("customer", C1001)])
def test_the_api_survives_schemathesis_with_every_key(app, tmp_path, role, key):
    url = app["url"]
    try:
        run = _schemathesis(url, key, tmp_path)
    finally:
        with httpx.Client(base_url=url, timeout=120) as http:  # as the other modules expect the app
            assert http.post("/v1/admin/sandbox/chaos", headers=h(ADMIN), json={}).status_code == 200
            assert http.post("/v1/admin/sandbox/world", headers=h(ADMIN), json={"fixture": "demo"}).status_code == 200
    summary = run.stdout[-6000:]
    assert run.returncode == 0, f"schemathesis found problems ({role} key):\n{summary}\n{run.stderr[-2000:]}"
    statuses = _statuses(tmp_path)
    assert statuses, summary
    assert all(s < 500 for seen in statuses.values() for s in seen), statuses
    # The run reached the operations behind the key, not only the key check.
    reached = {op for op, seen in statuses.items() if any(200 <= s < 300 for s in seen)}
    assert "POST /v1/conversations" in reached, statuses
    if role == "admin":
        assert {"POST /v1/admin/sandbox/world", "POST /v1/admin/sandbox/chaos", "GET /v1/ops/audit"} <= reached
    # The stateful phase followed links between operations (schemathesis.toml), not only single calls.
    followed = re.search(r"API Links:\s+(\d+) covered", run.stdout)
    assert followed and int(followed.group(1)) >= 1, summary
    print(f"schemathesis ({role}): {summary.splitlines()[-1] if summary else ''}")
