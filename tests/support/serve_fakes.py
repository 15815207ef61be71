"""A small in-memory planner with the real Planner's interface, for testing the HTTP edge (routing, auth, limits,
errors, SSE) without the agents. It keeps the planner's access rules (a customer key sees only its own
customer's conversations; unknown ids are NotFound) and counts turns, so a test can prove that a refused request
never reached it. Used by tests/unit/test_ingress_routes.py and tests/integration/test_ingress_http.py only.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from telco.contract.messages import IntentScore
from telco.contract.principal import Principal
from actors.planner.planner import owner_of_new_conversation
from telco.contract.http import (
    ConversationCreated, ConversationOut, CustomerStepOut, FeedbackIn, MessageIn, NewConversation, TranscriptTurn,
    TurnOut,
)
from telco.errors import Forbidden, NotFound


class FakePlanner:
    def __init__(self) -> None:
        self.conversations: dict[str, dict[str, Any]] = {}
        self.turns = 0

    async def ping(self) -> str:
        return "ok"

    async def start_conversation(self, principal: Principal, body: NewConversation) -> ConversationCreated:
        customer_id = owner_of_new_conversation(principal, body.customer_id)  # the planner's own rule
        cid = f"conv-{len(self.conversations) + 1:04d}"
        self.conversations[cid] = {"customer_id": customer_id, "channel": body.channel, "turns": [],
                                   "messages": [], "feedback": None}
        return ConversationCreated(conversation_id=cid, customer_id=customer_id, channel=body.channel)

    def _load(self, principal: Principal, cid: str) -> dict[str, Any]:
        conv = self.conversations.get(cid)
        if conv is None:
            raise NotFound(f"conversation {cid} not found", conversation_id=cid)
        if principal.role == "customer" and conv["customer_id"] != principal.customer_id:
            raise Forbidden("this conversation belongs to another customer")
        return conv

    async def handle_turn(self, principal: Principal, cid: str, body: MessageIn) -> TurnOut:
        conv = self._load(principal, cid)
        self.turns += 1
        conv["messages"].append(body)
        n = len(conv["turns"]) + 1
        reply = (f"Thanks, I read {len(body.text)} characters. I am checking the network in your area.\n"
                 f"Could you restart your router? Then tell me what the lights show!")
        turn = TurnOut(turn_id=f"{cid}-t{n}", conversation_id=cid, reply=reply, mode="offline",
                       intents=[IntentScore(intent="broadband_drops", confidence=0.91)],
                       customer_steps=[CustomerStepOut(step_id="restart_router",
                                                       instruction="Turn the router off and on again.")],
                       status="waiting_customer")
        conv["turns"].append(TranscriptTurn(turn_id=turn.turn_id, at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                                            customer=body.text, reply=reply, mode="offline", trace=turn.trace))
        return turn

    async def get_conversation(self, principal: Principal, cid: str) -> ConversationOut:
        conv = self._load(principal, cid)
        return ConversationOut(conversation_id=cid, customer_id=conv["customer_id"], channel=conv["channel"],
                               status="open", turns=list(conv["turns"]))

    async def feedback(self, principal: Principal, cid: str, body: FeedbackIn) -> dict[str, Any]:
        conv = self._load(principal, cid)
        conv["feedback"] = body.model_dump()
        return {"conversation_id": cid, "recorded": True}

    async def operations(self, op: str, *args: Any) -> list[dict[str, Any]]:
        self.operations_seen = [*getattr(self, "operations_seen", []), op]
        return []

    async def stats(self) -> dict[str, int]:
        return {"turns": self.turns, "conversations": len(self.conversations)}


class _Method:
    def __init__(self, fn: Any) -> None:
        self._fn = fn

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)


class Local:
    """Gives a plain async object the `handle.method.remote(...)` call shape of a Serve DeploymentHandle."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def __getattr__(self, name: str) -> _Method:
        return _Method(getattr(self.target, name))
