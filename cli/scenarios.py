"""`telco scenarios run --runner playbook|local|api`: the scenario suite through each way of running it."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from typing import Any, Callable, Iterator


def print_result(result: Any, verbose: bool) -> None:
    mark = "PASS" if result.passed else "FAIL"
    print(f"{mark} {result.scenario_id} [{result.family}]", flush=True)
    if verbose or not result.passed:
        for c in result.checks:
            print(f"    {'ok ' if c.ok else 'BAD'} {c.check}: {c.detail}")


@contextlib.contextmanager
def _local_runner(args: argparse.Namespace) -> Iterator[Callable]:
    from actors.runtime.local import LocalClient
    from memory.bootstrap import memory_bootstrap
    from telco.config import Settings
    from telco.scenarios.agents_driver import run_scenario_with_agents

    with tempfile.TemporaryDirectory(prefix="telco-local-") as tmp:
        uri = args.memory_uri or tmp
        print(f"memory: {memory_bootstrap(Settings(memory_uri=uri))}", file=sys.stderr)
        with LocalClient(uri) as client:
            yield lambda scenario: run_scenario_with_agents(scenario, client)


def _role_key(settings: Any, role: str) -> str:
    key = next((k for k in settings.api_keys if k.role == role), None)
    if key is None:
        raise SystemExit(f"no API key with role {role!r} configured (TELCO_API_KEYS)")
    return key.key.get_secret_value()


@contextlib.contextmanager
def _api_runner(args: argparse.Namespace) -> Iterator[Callable]:
    import httpx

    from cli import cluster as cli_cluster
    from telco.config import get_settings
    from telco.scenarios.agents_driver import HttpClient, run_scenario_with_agents

    settings = get_settings()
    url = args.url or settings.serve.url
    try:
        running = httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        running = False
    if not running:  # start what is missing and stop it afterwards
        print(f"no app answering at {url}: starting one (telco up)", file=sys.stderr)
        cli_cluster.cmd_up(argparse.Namespace(address=None, app=cli_cluster.DEFAULT_APP, dashboard_port=8265,
                                              timeout=600.0))
    client = HttpClient(url, _role_key(settings, "operations"), _role_key(settings, "admin"))
    try:
        yield lambda scenario: run_scenario_with_agents(scenario, client)
    finally:
        client.close()
        if not running:
            cli_cluster.cmd_down(argparse.Namespace(address=None))


@contextlib.contextmanager
def _api_runner_scripted_model(args: argparse.Namespace) -> Iterator[Callable]:
    """The api runner with the Claude path on: a fresh app whose Messages API is a loopback competent model."""
    from serve.local_app import local_app
    from telco.config import get_settings
    from telco.scenarios.agents_driver import HttpClient, run_scenario_with_agents
    from telco.testing.competent_model import competent_api
    from telco.testing.loopback import serve as serve_loopback

    api = competent_api(delay_s=args.model_delay_ms / 1000)
    with tempfile.TemporaryDirectory(prefix="telco-api-") as tmp, serve_loopback(api) as base_url, \
            local_app(args.memory_uri or tmp, {"TELCO_ANTHROPIC__API_KEY": "sk-scripted-competent",
                                               "TELCO_ANTHROPIC__BASE_URL": base_url,
                                               "TELCO_ANTHROPIC__MODE": args.mode,
                                               "TELCO_LIMITS__RATE_PER_MINUTE": "100000",
                                               "OMP_NUM_THREADS": "1"}) as url:
        settings = get_settings()
        client = HttpClient(url, _role_key(settings, "operations"), _role_key(settings, "admin"))
        try:
            yield lambda scenario: run_scenario_with_agents(scenario, client)
        finally:
            client.close()
            print(json.dumps({"scripted_model_requests": len(api.requests), "problems": api.problems[:5]}),
                  file=sys.stderr)


@contextlib.contextmanager
def _playbook_runner(args: argparse.Namespace) -> Iterator[Callable]:
    from telco.scenarios.playbook_driver import run_scenario_with_playbooks

    yield run_scenario_with_playbooks


RUNNERS = {"playbook": _playbook_runner, "local": _local_runner, "api": _api_runner}


def _suite(args: argparse.Namespace) -> list[Any]:
    from telco.scenarios import load_scenarios

    if args.suite == "own":
        return load_scenarios()
    from telco.scenarios.compound import generate, sample

    families = tuple(args.family) if args.family else ("no_service", "mobile_data", "mms")
    scenarios = list(generate(families, full=args.full))  # type: ignore[arg-type]
    return sample(scenarios, args.sample) if args.sample else scenarios


def cmd_scenarios_run(args: argparse.Namespace) -> int:
    import time

    from telco.scenarios.report import suite_extras, summarise

    started = time.perf_counter()
    scenarios = _suite(args)
    if args.only:
        scenarios = [s for s in scenarios if s.id in set(args.only)]
        if not scenarios:
            print(f"no scenario with id in {args.only}", file=sys.stderr)
            return 2
    results = []
    runner = RUNNERS[args.runner]
    if getattr(args, "model", "none") == "scripted-competent":
        if args.runner != "api":
            print("--model scripted-competent needs --runner api", file=sys.stderr)
            return 2
        runner = _api_runner_scripted_model
    with runner(args) as run_one:
        for scenario in scenarios:
            result = run_one(scenario)
            results.append(result)
            print_result(result, args.verbose)
            if args.verbose:
                for ex in result.outcome.transcript:
                    print(f"      {ex.who:>13}: {ex.text[:300]}")
    summary = summarise(results, args.runner)
    summary.update(suite=args.suite, **suite_extras(scenarios, results),
                   seconds=round(time.perf_counter() - started, 1))
    if getattr(args, "model", "none") != "none":
        summary["model"] = args.model  # a scripted stand-in: these figures say nothing about Claude
    print(json.dumps(summary))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run scenarios and print a JSON summary as the last line")
    run.add_argument("--runner", choices=sorted(RUNNERS), default="playbook",
                     help="playbook: the flows alone, labelled intents; local: all agents in this process; "
                          "api: over HTTP against Ray Serve (starts and stops a local app when none is running)")
    run.add_argument("--only", nargs="*", help="scenario ids to run")
    run.add_argument("--verbose", "-v", action="store_true", help="print every check and the transcript")
    run.add_argument("--memory-uri", help="local runner: memory location (default: a fresh temporary directory)")
    run.add_argument("--url", help="api runner: the app's base URL (default: settings)")
    run.add_argument("--model", choices=["none", "scripted-competent"], default="none",
                     help="api runner: scripted-competent starts a fresh app with the Claude path on, its Messages "
                          "API a loopback model that answers from the scenario labels (wiring check, not Claude)")
    run.add_argument("--mode", choices=["llm", "hybrid"], default="llm",
                     help="with --model scripted-competent: the model on every turn (llm) or where it adds value")
    run.add_argument("--model-delay-ms", type=float, default=0.0,
                     help="with --model scripted-competent: how long the loopback model takes per request")
    run.add_argument("--suite", choices=["own", "compound"], default="own",
                     help="own: the hand-written scenarios; compound: generated from the fault catalogue and the "
                          "physics (2-4 fault combinations per mobile family)")
    run.add_argument("--sample", type=int, default=0, help="compound: run a spread sample of this many")
    run.add_argument("--full", action="store_true",
                     help="compound: every valid combination of 2-4 faults, not every pair and every k-th larger one")
    run.add_argument("--family", nargs="*", choices=["no_service", "mobile_data", "mms"],
                     help="compound: only these families")
    run.set_defaults(func=cmd_scenarios_run)

    gen = sub.add_parser("generate", help="write the generated compound suite as YAML (JSON summary last)")
    gen.add_argument("--compound", action="store_true", required=True, help="the compound-fault suite")
    gen.add_argument("--out", default="var/compound.yaml", help="where to write it")
    gen.add_argument("--full", action="store_true", help="every valid combination (see run --full)")
    gen.set_defaults(func=cmd_scenarios_generate)


def cmd_scenarios_generate(args: argparse.Namespace) -> int:
    from collections import Counter
    from pathlib import Path

    import yaml

    from telco.scenarios.compound import generate

    scenarios = list(generate(full=args.full))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump([s.model_dump(mode="json", exclude_defaults=True) for s in scenarios],
                                  sort_keys=False, allow_unicode=True))
    families = Counter(s.family for s in scenarios)
    sizes = Counter(len(s.faults) for s in scenarios)
    print(json.dumps({"generated": len(scenarios), "out": str(out), "families": dict(sorted(families.items())),
                      "faults_per_scenario": {str(k): v for k, v in sorted(sizes.items())}}))
    return 0
