"""Playbook run statistics: one procedure_runs row per episode of a known playbook version (keyed by the episode id,
so a rerun adds nothing), which procedural memory's stats and the playbook A/B decision (jobs.playbooks.split)
read."""
from __future__ import annotations

import json
from typing import Any

from telco.contract.episode import Episode


def run_row(episode: Episode) -> dict[str, Any] | None:
    """The procedure_runs row of one episode, or None when no playbook ran it (the episode names none)."""
    if episode.playbook is None:
        return None
    steps = episode.steps
    return {"run_id": episode.episode_id, "procedure_id": f"{episode.playbook}@{episode.playbook_version}",
            "name": episode.playbook, "version": episode.playbook_version, "outcome": episode.outcome,
            "turns": len(steps),
            "step_outcomes": json.dumps({s.name: "ok" if s.ok else "failed" for s in steps}, sort_keys=True),
            "at": episode.ended_at}
