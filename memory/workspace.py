"""Workspace assembly: what the agents see for one turn, gathered from every memory under a size budget.

Order of precedence: working memory (this conversation, always first), then this customer's similar past
episodes, then knowledge sections (and graph facts), then the active playbook for the intent. Within a source,
items keep their retrieval rank. Items that do not fit the budget are dropped whole, never cut mid-way, and each
item says where it came from so an answer can cite it.
"""
from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field

from memory.episodic import EpisodicMemory
from memory.procedural import ProceduralMemory
from memory.retrieval import require_customer
from memory.semantic import SemanticMemory
from memory.working import WorkingMemory
from telco.errors import InvalidInput

Source = Literal["working", "episodic", "semantic", "graph", "procedural"]
SOURCE_ORDER: tuple[Source, ...] = ("working", "episodic", "semantic", "graph", "procedural")


class WorkspaceItem(BaseModel):
    source: Source
    ref: str  # conversation id, episode id, section id, edge id or name@version
    text: str
    score: float = 0.0


class Workspace(BaseModel):
    customer_id: str
    conversation_id: str
    items: list[WorkspaceItem] = Field(default_factory=list)
    budget_chars: int
    used_chars: int = 0
    dropped: int = 0

    def by_source(self, source: Source) -> list[WorkspaceItem]:
        return [i for i in self.items if i.source == source]

    def render(self) -> str:
        return "\n\n".join(f"[{i.source}:{i.ref}]\n{i.text}" for i in self.items)


class WorkspaceBuilder:
    def __init__(self, working: WorkingMemory, episodic: EpisodicMemory, semantic: SemanticMemory,
                 procedural: ProceduralMemory | None = None) -> None:
        self.working = working
        self.episodic = episodic
        self.semantic = semantic
        self.procedural = procedural

    def assemble(self, customer_id: str, conversation_id: str, query: str, *, intent: str | None = None,
                 service_type: str | None = None, budget_chars: int = 6_000, episodes: int = 3,
                 sections: int = 4, expand_graph: bool = True) -> Workspace:
        require_customer(customer_id)
        if budget_chars < 200:
            raise InvalidInput(f"workspace budget must be at least 200 characters, got {budget_chars}")
        candidates: list[WorkspaceItem] = []

        state = self.working.get(conversation_id, customer_id=customer_id)
        if state is not None:
            summary = {"dialogue_state": state.dialogue_state, "slots": state.slots,
                       "active_playbook": state.active_playbook, "active_step": state.active_step,
                       "pending_customer_steps": state.pending_customer_steps, "intents": state.intents}
            turns = "\n".join(f"{t.role}: {t.text}" for t in state.last_turns)
            candidates.append(WorkspaceItem(source="working", ref=conversation_id, score=1.0,
                                            text=json.dumps(summary, sort_keys=True, default=str) + "\n" + turns))

        for hit in self.episodic.similar(customer_id, query, k=episodes):
            ep = hit.episode
            candidates.append(WorkspaceItem(
                source="episodic", ref=ep.episode_id, score=hit.score,
                text=f"{ep.ended_at.date()} {ep.outcome} ({', '.join(ep.intents)}): {ep.summary}"))

        result = self.semantic.search(query, k=sections, expand_graph=expand_graph)
        for h in result.hits:
            candidates.append(WorkspaceItem(source="semantic", ref=h.section_id, score=h.score, text=h.text))
        for f in result.facts:
            candidates.append(WorkspaceItem(source="graph", ref=f.edge_id, score=float(f.evidence_count),
                                            text=f"{f.src} {f.relation.replace('_', ' ')} {f.dst}"))

        if self.procedural is not None and intent:
            book = self.procedural.lookup(intent, service_type)
            if book is not None:
                steps = [s.get("id") for s in book.body.get("steps", [])]
                candidates.append(WorkspaceItem(
                    source="procedural", ref=f"{book.name}@{book.version}", score=1.0,
                    text=f"{book.title}: steps {' -> '.join(map(str, steps))}"))

        order = {s: i for i, s in enumerate(SOURCE_ORDER)}
        ws = Workspace(customer_id=customer_id, conversation_id=conversation_id, budget_chars=budget_chars)
        for item in sorted(candidates, key=lambda i: order[i.source]):  # stable: keeps rank within a source
            cost = len(item.text) + len(item.ref) + 4
            if ws.used_chars + cost > budget_chars:
                ws.dropped += 1
                continue
            ws.items.append(item)
            ws.used_chars += cost
        return ws
