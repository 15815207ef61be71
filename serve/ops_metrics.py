"""GET /v1/ops/metrics: the numbers the operations console shows, computed from the turns log of a recent window.

Ray's metrics (actors/operations/metrics.py) go to Prometheus/Grafana, which a small deployment may not run; the
console needs its figures without them. The turns table is the source of truth for what was answered, and each
agent row keeps the whole TurnOut, so everything here (rates, latency, mode shares, tokens, cost, resolutions,
hand-overs) is one read of the window's rows. The read runs in a thread: LanceDB is blocking.
"""
from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from pydantic import BaseModel

from actors.operations.metrics import llm_tokens, turn_had_error
from actors.runtime.conversation_store import STORED_EXTRA
from memory.experiments import read_running
from memory.store import connect
from telco.contract.http import TurnOut

MAX_ROWS = 50_000
PERSON_REPLY = "person_reply"  # the notice a person's reply carries (actors/operations/handoffs.py)  # a busier window is summarised from its newest rows


class OpsMetrics(BaseModel):
    window_s: int
    turns: int
    turns_per_s: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    error_rate: float | None
    degraded_rate: float | None
    tokens: int
    cost_usd: float
    mode_shares: dict[str, float]
    resolution_rate: float | None  # conversations with a turn in the window that ended resolved
    handover_rate: float | None  # ... that were handed to a person
    conversations: int
    person_replies: int
    experiments: list[dict[str, Any]]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile: small windows give a value that actually occurred."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _turn(row: dict[str, Any]) -> TurnOut | None:
    try:
        return TurnOut.model_validate_json(row["trace"], extra=STORED_EXTRA) if row.get("trace") else None
    except ValueError:
        return None


def summarise(rows: list[dict[str, Any]], window_s: int, experiments: list[dict[str, Any]]) -> OpsMetrics:
    turns: list[TurnOut] = []
    person = 0
    for row in rows:
        t = _turn(row)
        if t is None:
            continue
        if PERSON_REPLY in t.informed:
            person += 1  # a person's words are not a turn the system answered
            continue
        turns.append(t)
    n = len(turns)
    latencies = [t.trace.latency_ms for t in turns]
    errors = sum(1 for t in turns if turn_had_error(t))  # the same definition the monitor alerts on
    modes = Counter(t.mode for t in turns)
    calls = [c for t in turns for c in t.trace.llm_calls]
    tokens = sum(llm_tokens(t) for t in turns)
    last: dict[str, str] = {}  # conversation -> the status of its newest turn in the window
    for t in sorted(turns, key=lambda t: t.turn_id):
        last[t.conversation_id] = t.status
    ended = Counter(last.values())
    convs = len(last)

    def share(k: int, total: int) -> float | None:
        return round(k / total, 4) if total else None

    return OpsMetrics(
        window_s=window_s, turns=n, turns_per_s=round(n / window_s, 4),
        latency_p50_ms=percentile(latencies, 0.50), latency_p95_ms=percentile(latencies, 0.95),
        error_rate=share(errors, n), degraded_rate=share(modes.get("degraded", 0), n),
        tokens=tokens, cost_usd=round(sum(c.cost_usd for c in calls), 6),
        mode_shares={m: round(k / n, 4) for m, k in sorted(modes.items())} if n else {},
        resolution_rate=share(ended.get("resolved", 0), convs), handover_rate=share(ended.get("handed_off", 0), convs),
        conversations=convs, person_replies=person, experiments=experiments,
    )


def _read(memory_uri: str, window_s: int, now: datetime) -> OpsMetrics:
    store = connect(memory_uri)
    since = (now - timedelta(seconds=window_s)).strftime("%Y-%m-%dT%H:%M:%S")
    rows = (store.log("turns").search().where(f"role = 'agent' AND created_at >= timestamp '{since}'")
            .limit(MAX_ROWS).to_list())
    try:
        experiments = [{k: v for k, v in e.items() if not isinstance(v, (bytes, list)) or k == "note"}
                       for e in read_running(store)]
    except Exception:  # noqa: BLE001 - a memory without the experiments table has none running
        experiments = []
    if experiments:
        decided = last_decisions(store)
        for e in experiments:
            e["last_decision"] = decided.get(e["experiment_id"])
    return summarise(rows, window_s, experiments)


def last_decisions(store: Any) -> dict[str, dict[str, Any]]:
    """{experiment_id: the newest decision logged for it}: the evaluation jobs append every `--decide-ab` (rates
    per arm, contacts, z-test, promote or not, why) to their history in the job_state table; the console shows the
    job's own verdict rather than recomputing it."""
    out: dict[str, dict[str, Any]] = {}
    try:
        rows = store.table("job_state").search().limit(1000).to_list()
    except Exception:  # noqa: BLE001 - no job has run on this memory yet
        return out
    for row in rows:
        try:
            history = json.loads(row.get("state") or "{}").get("history", [])
        except (ValueError, AttributeError):
            continue
        for entry in history:
            if isinstance(entry, dict) and entry.get("experiment") and isinstance(entry.get("decision"), dict):
                prev = out.get(entry["experiment"])
                if prev is None or str(entry.get("at", "")) >= str(prev.get("at", "")):
                    out[entry["experiment"]] = {"at": entry.get("at"), **entry["decision"]}
    return out


async def ops_metrics(memory_uri: str, window_s: int,
                      clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> OpsMetrics:
    return await asyncio.to_thread(_read, memory_uri, window_s, clock())
