"""Learn from the episodes that ended since the last run, and update memory through the single writer:

- playbook step statistics: one procedure_runs row per episode (keyed by episode id, so a rerun adds nothing),
- knowledge-graph evidence: intent -caused_by-> cause and intent -resolved_by-> fix, counted from resolved
  episodes,
- intent examples: the opening words of resolved conversations that are a new phrasing for their intent; with
  --publish they go through the publish gate (jobs/intent/publish.py): a new example set with its calibration
  refitted, activated only if held-out intent accuracy does not drop (`telco intents status|rollback`).

Incremental: a watermark in job_state plus a ledger of learned episode ids, so running it twice counts nothing
twice, also when a run stopped half-way. Aggregates in this process (`--engine local`) or in Ray tasks, a chunk of
episodes each (`--engine ray`); both use the same per-batch aggregation (jobs.intent.learning).

    python -m jobs.learn --memory-uri ./var/memory [--engine ray] [--publish]
"""
from __future__ import annotations

import os

from jobs.common.command import parser, print_summary
from jobs.intent.learning import learn


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--no-examples", action="store_true", help="skip learning intent examples (no embedding model)")
    p.add_argument("--report", default=None, help="write thresholds and KB gaps as markdown here")
    p.add_argument("--publish", action="store_true",
                   help="gate the learned intent examples into a new served example set (jobs/intent/publish.py)")
    args = p.parse_args(argv)
    if args.engine == "ray":
        import ray

        # Under `ray job submit` RAY_ADDRESS names the cluster; run by hand, a private local one (never someone
        # else's cluster that happens to be running on this machine).
        ray.init(address=os.environ.get("RAY_ADDRESS") or "local", ignore_reinit_error=True)
    summary = learn(args.memory_uri, engine=args.engine, with_examples=not args.no_examples, report=args.report)
    if args.publish:
        from jobs.common.tables import local_writer
        from jobs.intent.publish import publish

        summary["intent_set"] = publish(*local_writer(args.memory_uri))
    print_summary(summary)


if __name__ == "__main__":
    main()
