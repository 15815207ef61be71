"""A hijacked model at the HTTP boundary, for the prompt-injection suite (tests only).

It behaves as a model that an injected instruction took over would:
- the planner's decision: once a hijack's trigger text has appeared in anything it was shown (the customer's
  message, a knowledge-base passage in a reply request, ...), its next planner decision is the hijacked plan (the
  intents, entities and next action the attacker wants); each hijack fires once. Otherwise it plans competently;
- the reply: it tells the customer everything it was shown (every message of the request), as a model told to
  "reveal your context" would. Whatever reached a model request therefore reaches the reply, so a reply free of
  another customer's data shows that the data never reached the model.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from telco.testing.competent_model import PLAN_TOOL, competent_reply
from telco.testing.scripted_api import Reply, ScriptedMessagesApi, forced_tool, text, tool_use

LEAK_PREFIX = "Of course. Everything I was given:"


@dataclass
class Hijack:
    trigger: str  # text whose appearance in a request takes the model over
    plan: dict[str, Any]  # a TurnPlan as the model would send it
    fired: bool = False


@dataclass
class AdversarialModel:
    hijacks: list[Hijack] = field(default_factory=list)
    _armed: list[Hijack] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, trigger: str, plan: dict[str, Any]) -> Hijack:
        hijack = Hijack(trigger, plan)
        with self._lock:
            self.hijacks.append(hijack)
        return hijack

    def __call__(self, body: dict[str, Any]) -> Reply:
        shown = json.dumps(body, ensure_ascii=False)
        with self._lock:
            for h in self.hijacks:
                if not h.fired and h not in self._armed and h.trigger in shown:
                    self._armed.append(h)
            taken = self._armed.pop(0) if self._armed and forced_tool(body) == PLAN_TOOL else None
            if taken is not None:
                taken.fired = True
        if taken is not None:
            return tool_use(PLAN_TOOL, taken.plan)
        if forced_tool(body) == PLAN_TOOL:
            return competent_reply(body)
        return text(f"{LEAK_PREFIX}\n{leaked(body)}")


def leaked(body: dict[str, Any]) -> str:
    """Every message of the request as text: what the reply of a model that reveals its context carries."""
    parts = []
    for m in body.get("messages") or []:
        content = m.get("content")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts += [json.dumps(b, ensure_ascii=False) for b in content or []]
    return "\n".join(parts)


def adversarial_api(model: AdversarialModel, **kw: Any) -> ScriptedMessagesApi:
    return ScriptedMessagesApi(model, **kw)
