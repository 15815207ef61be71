"""`telco intents status|publish|rollback`: the intent example sets the classifier serves (memory/intent_sets.py).

Each command works on memory directly (TELCO_MEMORY_URI or --memory-uri), prints what it found or did and ends with
a one-line JSON summary; running Intent replicas follow the active set within settings.intent_refresh_s.
"""
from __future__ import annotations

import argparse
import json


def _memory(args: argparse.Namespace):
    from jobs.common.tables import local_writer
    from telco.config import get_settings

    return local_writer(args.memory_uri or get_settings().memory_uri)


def cmd_status(args: argparse.Namespace) -> int:
    from jobs.intent.publish import status

    store, _ = _memory(args)
    found = status(store)
    for v in found["versions"]:
        acc = (f"held-out {v['accuracy_before']} -> {v['accuracy_after']} ({v['held_out']} messages)"
               if "accuracy_after" in v else "")
        mark = "*" if v["version"] == found["active_version"] else " "
        print(f"{mark} v{v['version']:<4} {v['status']:9s} {v.get('examples') or '':>5} examples  "
              f"{v.get('decision') or '':9s} {acc}  {v['note'] or ''}")
    print(json.dumps(found, default=str))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from jobs.intent.publish import publish

    result = publish(*_memory(args))
    print(json.dumps(result, default=str))
    return 0 if result["decision"] in ("promoted", "nothing_new") else 1


def cmd_rollback(args: argparse.Namespace) -> int:
    from jobs.intent.publish import rollback
    from telco.errors import TelcoError

    try:
        result = rollback(*_memory(args))
    except TelcoError as err:
        print(f"cannot roll back: {err}")
        return 1
    print(json.dumps(result, default=str))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    intents = sub.add_parser("intents", help="the intent example sets: status, publish (gated), rollback")
    actions = intents.add_subparsers(dest="action", required=True)
    for name, func, text in (
            ("status", cmd_status, "every example set, which one is active, and the gate's decisions"),
            ("publish", cmd_publish, "active set + learned examples: refit, evaluate held-out, promote if no worse"),
            ("rollback", cmd_rollback, "reactivate the set that was active before the current one")):
        p = actions.add_parser(name, help=text)
        p.add_argument("--memory-uri", default=None, help="LanceDB memory (default TELCO_MEMORY_URI)")
        p.set_defaults(func=func)
