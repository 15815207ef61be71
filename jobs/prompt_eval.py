"""Evaluate a candidate playbook version against the active one on a replay set, and promote it only when the
evidence says so (jobs.common.ab.decide: minimum sample, one-sided two-proportion z-test against a margin).

Playbook versions (jobs.playbooks.versions: replayed offline; jobs.playbooks.split: served to a share):

    python -m jobs.prompt_eval --playbook mobile_data --candidate 3 --replay 200 [--promote]
    python -m jobs.prompt_eval --playbook mobile_data --candidate 3 --start-ab 0.2   # serve it to 20%
    python -m jobs.prompt_eval --playbook mobile_data --decide-ab [--promote]         # after jobs.learn
    python -m jobs.prompt_eval --playbook mobile_data --rollback

Prompt versions of a role (jobs.prompts.versions; needs a model: an API key, or --model scripted-guided):

    python -m jobs.prompt_eval --role dialogue [--candidate 4] --replay 200 [--promote] [--model scripted-guided]
    python -m jobs.prompt_eval --role dialogue --rollback

and served to a share of conversations on the Claude path (jobs.prompts.split; no model needed to start or decide):

    python -m jobs.prompt_eval --role dialogue --candidate 4 --start-ab 0.2
    python -m jobs.prompt_eval --role dialogue --decide-ab [--promote]

Every decision is logged in job_state ("prompt_eval"); the last line of stdout is the decision as JSON.
"""
from __future__ import annotations

import argparse
from typing import Any

from jobs.common.ab import MIN_PER_ARM
from jobs.common.command import parser, print_summary
from jobs.common.tables import local_writer
from jobs.playbooks import split as playbook_split
from jobs.playbooks import versions as playbook_versions
from jobs.prompts import split as prompt_split
from jobs.prompts import versions as prompt_versions
from jobs.prompts.model_source import MODELS, model_source
from memory.store import MemoryStore


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--playbook")
    what.add_argument("--role", help="a role of the prompt registry (e.g. dialogue): evaluate prompt versions")
    p.add_argument("--model", choices=MODELS, default=None,
                   help="--role: the model the replays talk to (default: Claude when an API key is set)")
    p.add_argument("--min-per-arm", type=int, default=MIN_PER_ARM)
    p.add_argument("--no-judge", action="store_true", help="--role: skip the LLM judge's Message Batch")
    p.add_argument("--candidate", type=int, help="the version to evaluate; default: the newest candidate")
    p.add_argument("--replay", type=int, default=200,
                   help="replayed contacts per arm (--playbook: of its intents; --role: of every family)")
    p.add_argument("--regression", type=int, default=100, help="replayed contacts of every family per arm")
    p.add_argument("--seed", type=int, default=None, help="the replay set's seed (default: one per mode)")
    p.add_argument("--promote", action="store_true", help="activate the candidate when the decision says so")
    p.add_argument("--rollback", action="store_true", help="re-activate the previously active version")
    p.add_argument("--start-ab", type=float, metavar="SHARE", help="serve the candidate to this share of traffic")
    p.add_argument("--decide-ab", action="store_true", help="decide the running experiment from served outcomes")
    args = p.parse_args(argv)
    store, writer = local_writer(args.memory_uri)
    print_summary(_prompt_job(store, writer, args) if args.role else _playbook_job(store, writer, args))


def _playbook_job(store: MemoryStore, writer, args: argparse.Namespace) -> dict[str, Any]:
    if args.rollback:
        return playbook_versions.rollback(store, writer, args.playbook)
    if args.decide_ab:
        return playbook_split.decide_ab(store, writer, args.playbook, promote=args.promote)
    version = args.candidate
    if version is None:
        version = playbook_versions.newest_candidate(store, writer, args.playbook)
    if args.start_ab is not None:
        return playbook_split.start_ab(store, writer, args.playbook, version, args.start_ab)
    seed = playbook_versions.REPLAY_SEED if args.seed is None else args.seed
    return playbook_versions.compare(store, writer, args.playbook, version, replay=args.replay,
                                     regression=args.regression, seed=seed, promote=args.promote,
                                     min_per_arm=args.min_per_arm)


def _prompt_job(store: MemoryStore, writer, args: argparse.Namespace) -> dict[str, Any]:
    if args.rollback:
        return prompt_versions.rollback_prompt(store, writer, args.role)
    if args.decide_ab:
        return prompt_split.decide_prompt_ab(store, writer, args.role, promote=args.promote,
                                             min_per_arm=args.min_per_arm)
    version = args.candidate
    if version is None:
        version = prompt_versions.newest_candidate(store, writer, args.role)
    if args.start_ab is not None:
        return prompt_split.start_prompt_ab(store, writer, args.role, version, args.start_ab)
    source = model_source(args.model, f"evaluating a {args.role} prompt")
    seed = prompt_versions.REPLAY_SEED if args.seed is None else args.seed
    return prompt_versions.compare_prompts(store, writer, args.role, version, source, replay_n=args.replay,
                                           seed=seed, promote=args.promote, min_per_arm=args.min_per_arm,
                                           judge=not args.no_judge)


if __name__ == "__main__":
    main()
