"""Prompt guidelines (telco/data/prompt_guidelines.yaml) and the reply signals they are about.

One place reads a reply the way the failure analysis, the prompt evaluation and the scripted prompt-following
model all need: its length in words, whether it acknowledges the customer, whether it keeps a citation marker;
and one place decides whether a prompt text already carries a guideline and adds one to it.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from telco.data import PROMPT_GUIDELINES_FILE

GUIDELINES_FILE = PROMPT_GUIDELINES_FILE
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CITATION = re.compile(r"\[\d+\]")


class Guideline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str]
    why: str
    text: str = Field(min_length=20)


class ReplyStandard(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_words: int = Field(gt=0)
    min_share_within: float = Field(ge=0, le=1)
    acknowledge_opening: bool = True


class RuleThreshold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_share: float = Field(ge=0, le=1)
    long_reply_words: int | None = None


class FailureRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_conversations: int = Field(ge=1)
    concision: RuleThreshold
    acknowledgement: RuleThreshold
    history: RuleThreshold


class Reflection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    safety_markers: list[str]
    max_growth_chars: int = Field(gt=0)
    min_keep_ratio: float = Field(ge=0, le=1)
    system: str


class GuidelineBook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    acknowledgement_markers: list[str]
    reply_standard: ReplyStandard
    failure_rules: FailureRules
    guidelines: dict[str, Guideline]
    reflection: Reflection

    def for_role(self, role: str) -> dict[str, Guideline]:
        return {n: g for n, g in self.guidelines.items() if role in g.roles}


@lru_cache(maxsize=1)
def load_guidelines(path: str = str(GUIDELINES_FILE)) -> GuidelineBook:
    return GuidelineBook.model_validate(yaml.safe_load(Path(path).read_text()))


def _norm(text: str) -> str:
    return " ".join(text.split())


def carried(prompt: str, book: GuidelineBook | None = None) -> set[str]:
    """The guidelines whose text a prompt carries (whitespace-insensitive)."""
    book = book or load_guidelines()
    flat = _norm(prompt)
    return {n for n, g in book.guidelines.items() if _norm(g.text) in flat}


def with_guidelines(prompt: str, names: list[str], book: GuidelineBook | None = None) -> str:
    """The prompt with each named guideline appended once (a guideline it already carries is not repeated)."""
    book = book or load_guidelines()
    have = carried(prompt, book)
    added = [book.guidelines[n].text for n in names if n not in have]
    return prompt.rstrip() + "".join(f"\n- {t}" for t in added) if added else prompt


# ---- reading a reply --------------------------------------------------------------------------------------------
def words(reply: str) -> int:
    return len(reply.split())


def sentences(reply: str) -> list[str]:
    return [s for s in _SENTENCE.split(reply.strip()) if s]


def acknowledges(reply: str, book: GuidelineBook | None = None) -> bool:
    """The reply's first sentence names the customer's situation (one of the acknowledgement markers)."""
    book = book or load_guidelines()
    first = (sentences(reply) or [""])[0].lower()
    return any(m in first for m in book.acknowledgement_markers)


def cites(reply: str) -> bool:
    return bool(_CITATION.search(reply))


def strip_citations(reply: str) -> str:
    return _norm(_CITATION.sub("", reply)).replace(" .", ".")


class ConversationReplies(BaseModel):
    """The reply signals of one conversation (from its turns: reply text, citations given, question asked)."""

    replies: int
    mean_words: float
    share_within: float
    opening_acknowledged: bool
    passages: int  # answering replies of turns that found knowledge (citations)
    passages_cited: int  # ... that quote it (an [n] marker)
    reasked: int  # questions asked again after the customer had answered them

    def meets(self, standard: ReplyStandard) -> bool:
        return (self.share_within >= standard.min_share_within
                and (self.opening_acknowledged or not standard.acknowledge_opening))


def read_replies(turns: list[dict[str, Any]], book: GuidelineBook | None = None) -> ConversationReplies:
    """`turns`: the system's turns in order, each with "reply", "citations" and "question" (the API's TurnOut)."""
    book = book or load_guidelines()
    replies = [t.get("reply") or "" for t in turns]
    n = len(replies)
    sizes = [words(r) for r in replies]
    asked: dict[str, int] = {}
    for t in turns:
        q = t.get("question") or {}
        if q.get("slot"):
            asked[q["slot"]] = asked.get(q["slot"], 0) + 1
    # A turn that found knowledge and answers (asks nothing, gives no step) should quote it; a turn that asks who
    # the customer is carries the knowledge it found without quoting it, rightly.
    given = [t for t in turns if t.get("citations") and not t.get("question") and not t.get("customer_steps")]
    return ConversationReplies(
        replies=n, mean_words=round(sum(sizes) / n, 2) if n else 0.0,
        share_within=round(sum(s <= book.reply_standard.max_words for s in sizes) / n, 4) if n else 1.0,
        opening_acknowledged=bool(replies) and acknowledges(replies[0], book),
        passages=len(given), passages_cited=sum(cites(t.get("reply") or "") for t in given),
        reasked=sum(c - 1 for c in asked.values() if c > 1))
