"""The `telco` command line: scenarios, the demo conversation, the fault and step catalogues."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence


def cmd_scenarios_list(args: argparse.Namespace) -> int:
    from telco.scenarios import load_scenarios

    for s in load_scenarios():
        print(f"{s.id:40s} {s.family:18s} {'source ' if s.source else ''}{s.title}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Show the world working: the first source scenario through the playbook runner, step by step."""
    from telco.scenarios import load_scenarios
    from telco.scenarios.playbook_driver import run_scenario_with_playbooks

    scenario = next(s for s in load_scenarios() if s.source)
    print(f"Scenario {scenario.id}: {scenario.title}")
    print(f"Faults injected: {', '.join(f.name for f in scenario.faults) or 'none'}\n")
    result = run_scenario_with_playbooks(scenario)
    for ex in result.outcome.transcript:
        who = {"customer": "Customer", "system": "Agent", "tool": "  tool", "customer_step": "Customer did"}[ex.who]
        print(f"{who:>12}: {ex.text}")
    print()
    from cli.scenarios import print_result

    print_result(result, verbose=True)
    print(json.dumps({"scenario": scenario.id, "passed": result.passed}))
    return 0 if result.passed else 1


def cmd_faults(args: argparse.Namespace) -> int:
    from telco.sandbox.faults import list_faults

    for f in list_faults():
        print(f"{f.name:32s} {f.family:10s} {f.description}")
    return 0


def cmd_steps(args: argparse.Namespace) -> int:
    from telco.sandbox.customer_steps import list_customer_steps

    for s in list_customer_steps():
        print(f"{s.id:32s} {s.target:8s} {s.instruction}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="telco", description="telco-agents command line")
    sub = parser.add_subparsers(dest="command", required=True)

    scen = sub.add_parser("scenarios", help="list or run the scenario suite").add_subparsers(dest="action", required=True)
    from cli import scenarios as cli_scenarios

    cli_scenarios.add_commands(scen)
    scen.add_parser("list", help="list scenarios").set_defaults(func=cmd_scenarios_list)

    sub.add_parser("demo", help="run the first source scenario step by step").set_defaults(func=cmd_demo)
    ev = sub.add_parser("eval", help="evaluations").add_subparsers(dest="what", required=True)
    retrieval = ev.add_parser("retrieval", help="KB recall@5: vector, full text, hybrid (JSON summary last)")
    retrieval.add_argument("rest", nargs=argparse.REMAINDER)
    retrieval.set_defaults(func=lambda a: __import__("memory.eval_retrieval", fromlist=["main"]).main(a.rest))
    sub.add_parser("faults", help="list the fault catalogue").set_defaults(func=cmd_faults)
    sub.add_parser("steps", help="list the customer-step catalogue").set_defaults(func=cmd_steps)

    from cli import chat as cli_chat  # the running system: up, down, chat, serve-config
    from cli import cluster as cli_cluster
    from cli import deploy as cli_deploy
    from cli import intents as cli_intents

    cli_cluster.add_commands(sub)
    cli_chat.add_commands(sub)
    cli_deploy.add_commands(sub)
    cli_intents.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
