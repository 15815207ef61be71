"""Failure analysis: takes the escalated, unresolved and abandoned episodes, replays each through the playbook
version that ran it to find the failure point, groups the same failure point and observation into patterns, ranks
them by frequency and cost, proposes a fix for each, and writes the `failure_patterns` table and a markdown report.
It also proposes prompt guidelines from the failed conversations' replies (jobs.playbooks.failures,
jobs.prompts.guideline_rules).

    python -m jobs.failures --memory-uri ./var/memory --report var/failures.md
"""
from __future__ import annotations

from pathlib import Path

from jobs.common.command import parser, print_summary
from jobs.playbooks.failures import failures


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--report", default=None, help="write the markdown report here")
    args = p.parse_args(argv)
    summary = failures(args.memory_uri, args.report)
    if args.report:
        print(Path(args.report).read_text())
    print_summary(summary)


if __name__ == "__main__":
    main()
