"""Replaying scenarios through the Claude path with one role's prompt pinned to a given text.

The conversations run in-process (actors/runtime/local.py: the same agent classes the Serve deployments wrap) with the
real LlmClient and the real anthropic SDK against the model of a ModelSource. Every other role keeps the
evaluated memory's active prompt. Each replayed conversation keeps the system's turns as the API returned them
(reply, citations, question, trace), which the reply metrics and the judge read.

Replays write conversations and episodes; they run in a scratch memory (scratch_memory: bootstrapped, with the
evaluated memory's active playbooks) so they never become episodes the learning jobs would learn from. No
similar-episode examples are shown to the model: an arm replayed second would otherwise see the first arm's
conversations.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from jobs.common.command import progress
from jobs.common.library import Library
from jobs.prompts.model_source import ModelSource
from memory.store import MemoryStore
from telco.prompt_guidelines import ConversationReplies, load_guidelines, read_replies


class PinnedPrompts:
    """RolePrompts with one role's text fixed (the version under evaluation)."""

    def __init__(self, base: Callable[[str], str], role: str, text: str) -> None:
        self.base, self.role, self.text = base, role, text

    def __call__(self, role: str) -> str:
        return self.text if role == self.role else self.base(role)


class RecordingClient:
    """A ScenarioClient (actors.runtime.local.LocalClient) that keeps every turn the system returned, per
    conversation."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.turns: dict[str, list[dict[str, Any]]] = {}
        self.last: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def start(self) -> str:
        self.last = self.inner.start()
        self.turns[self.last] = []
        return self.last

    def send(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        out = self.inner.send(conversation_id, body)
        self.turns.setdefault(conversation_id, []).append(out)
        return out


@dataclass
class Replayed:
    result: Any  # telco.scenarios.report.ScenarioResult
    turns: list[dict[str, Any]] = field(default_factory=list)

    @cached_property
    def replies(self) -> ConversationReplies:
        return read_replies(self.turns)

    def exchanges(self) -> list[tuple[str, str]]:
        return [(e.who, e.text) for e in self.result.outcome.transcript if e.who in ("customer", "system")]


def replay(memory_uri: str, source: ModelSource, prompts: Callable[[str], str], scenarios: list,
           desc: str) -> list[Replayed]:
    from actors.planner.llm_brain import ClaudeBrain
    from actors.runtime.local import LocalClient
    from telco.scenarios.agents_driver import run_scenario_with_agents

    client = RecordingClient(LocalClient(memory_uri, llm=ClaudeBrain(source.llm_client(), prompts)))
    out = []
    try:
        for scenario in progress(scenarios, desc=desc):
            result = run_scenario_with_agents(scenario, client)
            out.append(Replayed(result, client.turns.get(client.last or "", [])))
    finally:
        client.close()
    return out


def llm_usage(replayed: list[Replayed]) -> dict[str, Any]:
    calls = [c for r in replayed for t in r.turns for c in (t.get("trace") or {}).get("llm_calls", [])]
    return {"llm_calls": len(calls), "degraded_turns": sum(t.get("mode") == "degraded" for r in replayed
                                                           for t in r.turns),
            "input_tokens": sum(c["input_tokens"] + c["cache_read_input_tokens"] + c["cache_creation_input_tokens"]
                                for c in calls),
            "output_tokens": sum(c["output_tokens"] for c in calls),
            "cost_usd": round(sum(c["cost_usd"] for c in calls), 6)}


def reply_metrics(replayed: list[Replayed]) -> dict[str, Any]:
    """Reply-level numbers a prompt changes, per arm."""
    standard = load_guidelines().reply_standard
    reads = [r.replies for r in replayed]
    n = len(reads)
    replies = sum(x.replies for x in reads)
    passages = sum(x.passages for x in reads)
    return {
        "replies": replies,
        "mean_reply_words": round(sum(x.mean_words * x.replies for x in reads) / replies, 2) if replies else 0.0,
        "replies_within_limit": round(sum(x.share_within * x.replies for x in reads) / replies, 4) if replies else 0.0,
        "opening_acknowledged": round(sum(x.opening_acknowledged for x in reads) / n, 4) if n else 0.0,
        "passages_cited": round(sum(x.passages_cited for x in reads) / passages, 4) if passages else None,
        "questions_reasked": sum(x.reasked for x in reads),
        "reply_standard_met": round(sum(x.meets(standard) for x in reads) / n, 4) if n else 0.0,
    }


def copy_active_playbooks(source: MemoryStore, target_uri: str) -> int:
    from memory.procedural import ProceduralMemory
    from memory.store import connect
    from memory.writer import LocalWriter

    lib = Library(source)
    store = connect(target_uri)
    target = ProceduralMemory(store, LocalWriter(store))
    for name, version in lib.active.items():
        target.add_version(lib.versions[(name, version)].model_dump(mode="json", exclude_none=True),
                           status="active")
    return len(lib.active)


def replay_memory(source: MemoryStore, replay_uri: str | None) -> contextlib.AbstractContextManager[str]:
    """`replay_uri` when given (a memory the caller may dirty, e.g. a test's), else a scratch memory."""
    return contextlib.nullcontext(replay_uri) if replay_uri else scratch_memory(source)


@contextlib.contextmanager
def scratch_memory(source: MemoryStore) -> Iterator[str]:
    """A bootstrapped memory in a temporary directory with `source`'s active playbook versions; removed after."""
    from memory.bootstrap import memory_bootstrap
    from telco.config import Settings

    tmp = tempfile.mkdtemp(prefix="telco-replay-")
    try:
        memory_bootstrap(Settings(memory_uri=tmp))
        copy_active_playbooks(source, tmp)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
