"""Which version of a role prompt a conversation is served, and the record of what each model call was served.

A running prompt experiment (memory.experiments, subject `prompt:<role>`) gives its share of conversations the
candidate version and the rest the active one, by the same sticky hash as playbook experiments (memory.experiments
.arm): the same conversation gets the same version on every turn and every replica, and keeps the version it was
first served when a split stops or a version is promoted (pinned_versions, from the conversation's state). The
versions served are named in the trace (telco.contract.http.LlmCall.prompts, e.g. "dialogue@2") and kept on the
conversation, so each episode says which versions served it and jobs.prompts.split can count outcomes per version.

Started, decided and stopped by `python -m jobs.prompt_eval --role R --start-ab SHARE / --decide-ab [--promote]`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memory.experiments import arm, prompt_subject


@dataclass(frozen=True)
class PromptPick:
    role: str
    text: str
    version: int | None = None  # None: the shipped file in telco/data/prompts/ (the registry had none)

    @property
    def label(self) -> str | None:
        return f"{self.role}@{self.version}" if self.version is not None else None


def candidate_version(running: list[dict[str, Any]], role: str, conversation_id: str) -> int | None:
    """The candidate version a running experiment on `role` serves this conversation; None: the active one."""
    for e in running:
        if e["playbook"] != prompt_subject(role):
            continue
        if arm(e["experiment_id"], conversation_id, e["share"]) == "candidate":
            return int(e["candidate_version"])
    return None


class ServedPrompts:
    """The prompts of one model call (role -> text) for one conversation, remembering the versions it handed out.

    `source` is a RolePrompts (whose pick() knows versions and experiments) or any role -> text callable (a pinned
    text under evaluation, a test's prompts), whose texts carry no version."""

    def __init__(self, source: Callable[[str], str], conversation_id: str, pinned: dict[str, int] | None = None
                 ) -> None:
        self.source, self.conversation_id = source, conversation_id
        self.pinned = pinned or {}  # role -> the version this conversation was already served
        self.labels: list[str] = []

    def __call__(self, role: str) -> str:
        pick = getattr(self.source, "pick", None)
        if pick is None:
            return self.source(role)
        chosen: PromptPick = pick(role, self.conversation_id, self.pinned.get(role))
        if chosen.label is not None and chosen.label not in self.labels:
            self.labels.append(chosen.label)
        return chosen.text


def pinned_versions(served: list[str]) -> dict[str, int]:
    """role -> version from a conversation's served labels ("dialogue@2"); a role served two versions (before
    versions were kept per conversation) is not pinned."""
    seen: dict[str, set[int]] = {}
    for label in served:
        role, _, version = label.rpartition("@")
        if role and version.isdigit():
            seen.setdefault(role, set()).add(int(version))
    return {role: versions.pop() for role, versions in seen.items() if len(versions) == 1}
