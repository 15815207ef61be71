"""Rule-based variant generator: from the costliest playbook failure pattern, propose playbook versions that send
the failing edge somewhere else (first where an earlier version sent it, then each step of the flow that still
tries something), gate them on a small batch of replayed contacts of that intent, and store the best one as a
candidate version for the full evaluation (jobs.prompt_eval; the work: jobs.playbooks.evolve).

    python -m jobs.evolve --memory-uri ./var/memory [--pattern PATTERN_ID] [--batch 12]

Prompt candidates from the report's prompt guidelines (jobs.prompts.evolve; rule-based, and reflective with a model):

    python -m jobs.evolve --role dialogue [--guideline concision ...] [--batch 8] [--model scripted-guided]
"""
from __future__ import annotations

from jobs.common.command import parser, print_summary
from jobs.common.tables import local_writer
from jobs.playbooks.evolve import evolve, top_pattern
from jobs.prompts.evolve import evolve_prompt
from jobs.prompts.model_source import MODELS, model_source


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--pattern", default=None, help="a failure_patterns id; default: the costliest")
    p.add_argument("--batch", type=int, default=None, help="gate batch (default: 12 playbook, 8 prompt contacts)")
    p.add_argument("--role", help="propose a prompt candidate for this role instead of a playbook version")
    p.add_argument("--guideline", action="append", help="--role: these guidelines (default: the failure report's)")
    p.add_argument("--model", choices=MODELS, default=None,
                   help="--role: the model that rewrites and gates (default: Claude when an API key is set)")
    p.add_argument("--no-reflect", action="store_true", help="--role: rule-based candidate only")
    args = p.parse_args(argv)
    store, writer = local_writer(args.memory_uri)
    if args.role:
        source = model_source(args.model, f"gating a {args.role} prompt candidate")
        print_summary(evolve_prompt(store, writer, args.role, source, names=args.guideline, batch=args.batch or 8,
                                    reflective=not args.no_reflect))
        return
    pattern = top_pattern(store, args.pattern)
    if pattern is None:
        print_summary({"job": "evolve", "pattern": None, "candidates": 0, "stored": None})
        return
    print_summary(evolve(store, writer, pattern, batch=args.batch or 12))


if __name__ == "__main__":
    main()
