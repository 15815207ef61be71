"""Benchmark: the Claude path's turn over HTTP, with a loopback Messages API that answers after a fixed delay.

Usage: python bench/claude_path.py [--delay-ms 300] [--turns 60] [--warmup 6]
Starts a local Ray cluster and the app with an API key set and its base URL pointing at a loopback scripted model
(telco/testing/competent_model.py: answers from the request, after --delay-ms), then plays bench/turns.py's
sequential customer on the app channel. Per turn: wall latency, the LLM calls on the critical path, tokens in and
out and how much of the input was read from the (simulated) prompt cache. Targets: typical turns make at most two
sequential LLM calls and take at most 2 x delay + 60 ms; every turn, whatever its number of calls, spends at most
60 ms (p50) beyond them. Then a few opening turns as server-sent events: when the
model's first words reach the client.

These are the loopback's figures: the tokens are estimated (characters / 4) and the cache is simulated by the
scripted API (telco/testing/cache_sim.py, Claude's documented rules in simple form). Nothing here measures Claude.
The last line of output is a one-line JSON summary; the exit status is 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.turns import APP_ENV, Customer, _load, _log, _pct, breakdown, machine  # noqa: E402

# What a competent model would read in bench/turns.py's opening messages (the loopback model's only knowledge).
OPENING_LABELS = {
    "Is there an outage in my area?": ["outage_check"],
    "My mobile data is slow": ["mobile_data"],
    "I can't send picture messages": ["mms"],
    "My home internet keeps dropping": ["broadband_drops"],
    "Why is my bill so high this month?": ["billing_dispute"],
    "My phone has no signal": ["mobile_no_service"],
}
OVERHEAD_MS = 60.0  # the turn's own work on top of two model calls


def turn_figures(out: dict[str, Any], wall_ms: float) -> dict[str, Any]:
    trace = out["trace"]
    calls = trace["llm_calls"]
    return {"wall_ms": wall_ms, "server_ms": trace["latency_ms"], "mode": out["mode"],
            "sequential": trace["llm_sequential_calls"], "llm_ms": sum(c["ms"] for c in calls),
            "input": sum(c["input_tokens"] for c in calls),
            "cache_read": sum(c["cache_read_input_tokens"] for c in calls),
            "cache_write": sum(c["cache_creation_input_tokens"] for c in calls),
            "output": sum(c["output_tokens"] for c in calls), "cost_usd": sum(c["cost_usd"] for c in calls)}


def play(url: str, turns: int, warmup: int, max_turns: int
         ) -> tuple[list[dict[str, Any]], list[Any], list[str]]:
    figures: list[dict[str, Any]] = []
    samples: list[Any] = []
    with httpx.Client(base_url=url, timeout=60) as http:
        customer = Customer(http, max_turns)
        customer.reset_world()
        while len(figures) < turns + warmup and len(customer.errors) <= 10:
            sample = customer.turn()
            if sample is not None:
                samples.append(sample)
                figures.append(turn_figures(json.loads(customer.last_reply_json), sample.wall_ms))
            if len(figures) % 30 == 0:
                customer.reset_world()  # device steps change the simulated world; keep flows comparable
    return figures[warmup:], samples[warmup:], customer.errors


def first_words(url: str, turns: int) -> dict[str, Any]:
    """Opening turns with Accept: text/event-stream: when the first delta of the model's reply arrives, and when
    the stream ends (after the turn is committed)."""
    from bench.turns import ADMIN_KEY, CUSTOMER_KEY, OPENINGS

    first, whole, live = [], [], 0
    customer = {"Authorization": f"Bearer {CUSTOMER_KEY}"}
    with httpx.Client(base_url=url, timeout=60) as http:
        http.post("/v1/admin/sandbox/world", headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                  json={"fixture": "demo"})
        for n in range(turns):
            cid = http.post("/v1/conversations", headers=customer, json={"channel": "app"}).json()["conversation_id"]
            started, seen, events = time.perf_counter(), None, []
            with http.stream("POST", f"/v1/conversations/{cid}/messages", json={"text": OPENINGS[n % len(OPENINGS)]},
                             headers={**customer, "Accept": "text/event-stream"}) as resp:
                for line in resp.iter_lines():
                    if line.startswith("event: "):
                        events.append(line[7:])
                        if line == "event: delta" and seen is None:
                            seen = (time.perf_counter() - started) * 1000
            whole.append((time.perf_counter() - started) * 1000)
            first.append(seen if seen is not None else whole[-1])
            live += events[:1] == ["meta"] and events[-1:] == ["done"]
    return {"turns": turns, "first_delta_p50_ms": round(_pct(first, 50), 1),
            "stream_end_p50_ms": round(_pct(whole, 50), 1), "well_formed": live}


def summarise(figures: list[dict[str, Any]], delay_ms: float) -> dict[str, Any]:
    wall = [f["wall_ms"] for f in figures]
    seq = [f["sequential"] for f in figures]
    typical = [f for f in figures if f["sequential"] <= 2]
    seen = sum(f["input"] + f["cache_read"] + f["cache_write"] for f in figures)
    n = len(figures) or 1
    # The target is written for the typical turn (two calls): 2 x delay + 60 ms. A turn with fewer calls is held to
    # the same 60 ms for everything but its calls, so a one-call turn cannot hide a slow rest of the turn.
    by_calls = {calls: [f["wall_ms"] for f in figures if f["sequential"] == calls] for calls in (1, 2)}
    beyond = round(_pct([f["wall_ms"] - f["sequential"] * delay_ms for f in figures], 50), 1)
    classes = {f"{calls}_calls": {"turns": len(w), "p50_ms": round(_pct(w, 50), 1) if w else None,
                                  "target_ms": calls * delay_ms + OVERHEAD_MS,
                                  "met": bool(w) and _pct(w, 50) <= calls * delay_ms + OVERHEAD_MS}
               for calls, w in by_calls.items()}
    return {
        "turns": len(figures), "modes": {m: sum(f["mode"] == m for f in figures) for m in {"llm", "degraded",
                                                                                             "offline"}},
        "p50_ms": round(_pct(wall, 50), 1), "p95_ms": round(_pct(wall, 95), 1),
        "server_p50_ms": round(_pct([f["server_ms"] for f in figures], 50), 1),
        "llm_ms_p50": round(_pct([f["llm_ms"] for f in figures], 50), 1),
        "outside_llm_p50_ms": round(_pct([f["wall_ms"] - f["llm_ms"] for f in figures], 50), 1),
        "sequential_llm_calls": {"mean": round(statistics.fmean(seq), 2) if seq else None, "max": max(seq, default=0),
                                 "share_at_most_2": round(len(typical) / n, 3)},
        "tokens_per_turn": {"input_total": round(seen / n, 1), "uncached_input": round(sum(f["input"] for f in figures) / n, 1),
                            "output": round(sum(f["output"] for f in figures) / n, 1)},
        "cache_read_share": round(sum(f["cache_read"] for f in figures) / seen, 3) if seen else 0.0,
        "estimated_cost_usd_per_turn": round(sum(f["cost_usd"] for f in figures) / n, 5),
        "by_calls": classes,
        "beyond_calls_p50_ms": beyond,  # wall - calls x delay: SDK work included
        "targets": {"typical_turn_p50_ms": {"target": classes["2_calls"]["target_ms"],
                                            "value": classes["2_calls"]["p50_ms"],
                                            "met": classes["2_calls"]["met"]},
                    "turn_beyond_its_calls_p50_ms": {"target": OVERHEAD_MS, "value": beyond,
                                                     "met": beyond <= OVERHEAD_MS},
                    "sequential_calls_typical": {"target": 2, "value": max(seq, default=0),
                                                 "met": len(typical) == len(figures)}},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=300.0, help="the loopback model's answer delay")
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=6, help="turns not counted (lazy loading, cache writes)")
    parser.add_argument("--max-turns", type=int, default=6, help="turns per conversation before starting over")
    parser.add_argument("--sse-turns", type=int, default=12, help="opening turns timed as server-sent events")
    args = parser.parse_args(argv)

    from serve.local_app import local_app
    from telco.testing.loopback import serve as serve_loopback
    from telco.testing.competent_model import competent_api

    api = competent_api(delay_s=args.delay_ms / 1000, labels=OPENING_LABELS)
    summary: dict[str, Any] = {"bench": "claude_path", "model": "loopback scripted (not Claude)",
                               "delay_ms": args.delay_ms, "machine": machine(), "load_at_start": _load()}
    with tempfile.TemporaryDirectory(prefix="bench-claude-") as uri, serve_loopback(api) as base_url:
        # llm mode: the turns timed here make the model's two calls (bench/cost.py compares the modes)
        env = {**APP_ENV, "TELCO_ANTHROPIC__API_KEY": "sk-loopback-bench", "TELCO_ANTHROPIC__BASE_URL": base_url,
               "TELCO_ANTHROPIC__MODE": "llm"}
        started = time.perf_counter()
        with local_app(uri, env) as url:
            _log(f"app ready at {url} after {time.perf_counter() - started:.1f} s")
            figures, samples, errors = play(url, args.turns, args.warmup, args.max_turns)
            streamed = first_words(url, args.sse_turns)
    summary.update(summarise(figures, args.delay_ms))
    summary["agents"] = breakdown(samples)  # planner and dialogue include their model call
    summary["sse"] = streamed
    summary["errors"] = len(errors)
    summary["error_samples"] = errors[:3]
    summary["model_requests"] = len(api.requests)
    summary["model_problems"] = api.problems[:3]
    summary["load_at_end"] = _load()
    print(json.dumps(summary))
    met = all(t["met"] for t in summary["targets"].values()) and not errors
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
