"""Learn from the episodes that ended since the last run, and update memory through the single writer:

- playbook step statistics: one procedure_runs row per episode (keyed by episode id, so a rerun adds nothing),
- knowledge-graph evidence: intent -caused_by-> cause and intent -resolved_by-> fix, counted from resolved
  episodes,
- intent examples: the opening words of resolved conversations that are a new phrasing for their intent.

Incremental: a watermark in job_state plus a ledger of learned episode ids, so running it twice counts nothing
twice, also when a run stopped half-way. Aggregates in this process (`--engine local`) or in Ray tasks, a chunk of
episodes each (`--engine ray`); both use the same per-batch aggregation (jobs.intent.learning).

    python -m jobs.learn --memory-uri ./var/memory [--engine ray]
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
    args = p.parse_args(argv)
    if args.engine == "ray":
        import ray

        # Under `ray job submit` RAY_ADDRESS names the cluster; run by hand, a private local one (never someone
        # else's cluster that happens to be running on this machine).
        ray.init(address=os.environ.get("RAY_ADDRESS") or "local", ignore_reinit_error=True)
    print_summary(learn(args.memory_uri, engine=args.engine, with_examples=not args.no_examples,
                        report=args.report))


if __name__ == "__main__":
    main()
