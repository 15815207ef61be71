"""Benchmark: what the model costs per resolved conversation in offline, hybrid and llm modes.

Usage: python bench/cost.py [--compound-sample 30] [--modes offline,hybrid,llm] [--only-own N]
Runs the own scenario suite and a spread sample of the compound suite (telco.scenarios.compound.sample, the same
every run) through every agent in this process (actors/runtime/local.py), once per mode, with the Claude path on a
scripted competent model (telco/testing/competent_model.py: it reads each scenario's opening as labelled and
repeats the template reply) behind the real anthropic SDK. Each mode starts from a copy of the same bootstrapped
memory. Per mode: model calls per turn and per resolved conversation, input / output / cache-read / cache-write
tokens, estimated dollars per resolved conversation (each call's cost from telco/data/llm_prices.yaml, as the trace
reports it), the share of turns with no model call, the resolution rate, and (hybrid) why the turns went each way.

A conversation counts as resolved when its scenario passes: the end state it expects is reached (a hand-over the
scenario calls for included). The cost of conversations that did not resolve is still counted.
Targets: hybrid <= 30% of llm's dollars per resolved conversation; >= 70% of hybrid turns with no model call;
hybrid resolves at least as many scenarios as llm.

These are the scripted model's figures: tokens are estimated (characters / 4) and the prompt cache is simulated by
the scripted API (telco/testing/cache_sim.py). Nothing here measures Claude. The last line is a one-line JSON
summary; the exit status is 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import collections
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.turns import _load, _log, machine  # noqa: E402

MODEL = "claude-sonnet-4-6"  # the default model of every role (telco/config.py), priced in llm_prices.yaml
COST_SHARE_TARGET = 0.30
ZERO_CALL_TARGET = 0.70


class Recorder:
    """A ScenarioClient around the in-process system that keeps every turn's trace figures."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.turns: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def send(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        out = self.client.send(conversation_id, body)
        trace = out["trace"]
        sent = [c for c in trace["llm_calls"] if c["outcome"] != "skipped"]
        route = trace.get("route") or {}
        self.turns.append({
            "calls": trace["llm_sequential_calls"], "mode": out["mode"],
            "input": sum(c["input_tokens"] for c in sent), "output": sum(c["output_tokens"] for c in sent),
            "cache_read": sum(c["cache_read_input_tokens"] for c in sent),
            "cache_write": sum(c["cache_creation_input_tokens"] for c in sent),
            "cost_usd": sum(c["cost_usd"] for c in trace["llm_calls"]),
            "reason": f"{route.get('path', '?')}: {route.get('reason', '?')}"})
        return out


def suites(compound_sample: int, only_own: int | None) -> tuple[list[Any], list[Any]]:
    from telco.scenarios import load_scenarios
    from telco.scenarios.compound import generate, sample

    own = load_scenarios()
    if only_own:
        own = own[:only_own]
    compound = sample(list(generate(("no_service", "mobile_data", "mms"))), compound_sample) if compound_sample else []
    return own, compound


def run_mode(mode: str, memory: str, scenarios: list[Any], labels: dict[str, list[str]]) -> dict[str, Any]:
    from actors.planner.llm_brain import ClaudeBrain
    from actors.runtime.local import LocalClient
    from telco.config import AnthropicSettings, LlmBudget
    from telco.llm import LlmClient
    from telco.scenarios.agents_driver import run_scenario_with_agents
    from telco.testing.competent_model import competent_api

    api = competent_api(labels=labels)
    brain = None
    if mode != "offline":
        # A budget no conversation reaches: llm mode's cost is measured, not capped (a capped run degrades to
        # offline and would flatter llm).
        settings = AnthropicSettings(api_key="sk-bench-cost", model=MODEL, mode=mode,
                                     budget=LlmBudget(max_calls=1000, max_tokens=10**8, max_cost_usd=100))
        brain = ClaudeBrain(LlmClient(settings, http_client=api.http_client(), base_url="http://scripted.invalid"),
                            mode=mode)
    started = time.perf_counter()
    results, per_conversation = [], []
    with LocalClient(memory, llm=brain) as local:
        client = Recorder(local)
        for scenario in scenarios:
            before = len(client.turns)
            result = run_scenario_with_agents(scenario, client)
            results.append(result)
            per_conversation.append((result.passed, client.turns[before:]))
            _log(f"{mode:>7} {'PASS' if result.passed else 'FAIL'} {scenario.id}")
    return figures(mode, results, per_conversation, client.turns, time.perf_counter() - started,
                   len(api.requests), api.problems)


def figures(mode: str, results: list[Any], per_conversation: list[tuple[bool, list[dict[str, Any]]]],
            turns: list[dict[str, Any]], seconds: float, requests: int, problems: list[str]) -> dict[str, Any]:
    resolved = sum(r.passed for r in results)
    n_turns = len(turns) or 1
    total = {k: sum(t[k] for t in turns) for k in ("calls", "input", "output", "cache_read", "cache_write",
                                                    "cost_usd")}
    per_resolved = (lambda v: round(v / resolved, 6) if resolved else None)
    return {
        "mode": mode, "conversations": len(results), "resolved": resolved,
        "resolution_rate": round(resolved / len(results), 4) if results else 0.0,
        "failed_ids": [r.scenario_id for r in results if not r.passed],
        "turns": len(turns), "turns_per_conversation": round(len(turns) / max(len(results), 1), 2),
        "model_calls": total["calls"], "model_requests": requests,
        "calls_per_turn": round(total["calls"] / n_turns, 3), "calls_per_resolved": per_resolved(total["calls"]),
        "zero_call_turn_share": round(sum(t["calls"] == 0 for t in turns) / n_turns, 4),
        "tokens": {k: total[k] for k in ("input", "output", "cache_read", "cache_write")},
        "tokens_per_resolved": {k: per_resolved(total[k]) for k in ("input", "output", "cache_read", "cache_write")},
        "cost_usd": round(total["cost_usd"], 6), "cost_usd_per_resolved": per_resolved(total["cost_usd"]),
        "modes": dict(collections.Counter(t["mode"] for t in turns)),
        "routes": dict(collections.Counter(t["reason"] for t in turns).most_common()),
        "seconds": round(seconds, 1), "model_problems": problems[:3],
    }


def targets(by_mode: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    hybrid, llm = by_mode.get("hybrid"), by_mode.get("llm")
    out: dict[str, dict[str, Any]] = {}
    if hybrid and llm and llm["cost_usd_per_resolved"]:
        share = round((hybrid["cost_usd_per_resolved"] or 0) / llm["cost_usd_per_resolved"], 4)
        out["hybrid_cost_per_resolved_share_of_llm"] = {"target": COST_SHARE_TARGET, "value": share,
                                                        "met": share <= COST_SHARE_TARGET}
    if hybrid:
        out["hybrid_zero_call_turn_share"] = {"target": ZERO_CALL_TARGET, "value": hybrid["zero_call_turn_share"],
                                              "met": hybrid["zero_call_turn_share"] >= ZERO_CALL_TARGET}
    if hybrid and llm:
        out["hybrid_resolved_at_least_llm"] = {"target": llm["resolved"], "value": hybrid["resolved"],
                                               "met": hybrid["resolved"] >= llm["resolved"]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compound-sample", type=int, default=30,
                        help="compound scenarios (a spread sample, the same every run; 0: none)")
    parser.add_argument("--modes", default="offline,hybrid,llm")
    parser.add_argument("--only-own", type=int, default=None, help="the first N own scenarios only (a quick run)")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - {"offline", "hybrid", "llm"}
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose among offline, hybrid, llm")

    from memory.bootstrap import memory_bootstrap
    from telco.config import Settings

    own, compound = suites(args.compound_sample, args.only_own)
    scenarios = own + compound
    # The competent model knows what each opening means, as a good model would; own openings it knows already.
    labels = {s.message: list(s.intents) for s in compound}
    summary: dict[str, Any] = {"bench": "cost", "model": f"scripted competent (not Claude), priced as {MODEL}",
                               "suites": {"own": len(own), "compound_sample": len(compound)},
                               "machine": machine(), "load_at_start": _load()}
    by_mode: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        base = Path(tmp) / "base"
        started = time.perf_counter()
        memory_bootstrap(Settings(memory_uri=str(base)))
        _log(f"memory bootstrapped in {time.perf_counter() - started:.0f} s")
        for mode in modes:
            copy = Path(tmp) / mode
            shutil.copytree(base, copy)  # every mode starts from the same memory (no episodes of another mode)
            by_mode[mode] = run_mode(mode, str(copy), scenarios, labels)
            _log(json.dumps({k: by_mode[mode][k] for k in ("mode", "resolved", "calls_per_turn",
                                                           "zero_call_turn_share", "cost_usd_per_resolved")}))
    summary["by_mode"] = by_mode
    summary["targets"] = targets(by_mode)
    summary["load_at_end"] = _load()
    print(json.dumps(summary))
    return 0 if all(t["met"] for t in summary["targets"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
