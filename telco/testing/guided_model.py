"""A scripted Messages API that follows the prompt guidelines it is given (tests and wiring checks only).

It is the competent model (competent_model.py) for the planner's decisions; its replies depend on the dialogue
system prompt it receives, so a test fails if a candidate prompt does not actually reach the model:
- without the concision guideline in the prompt it pads every reply with a restatement;
- without the acknowledgement guideline it drops the template's opening acknowledgement; with it, it makes sure
  the reply opens with one;
- without the history guideline it drops the knowledge passage's [n] markers.
It also plays the LLM judge of jobs.prompts.judge (forced tool `judge_scores`: scores read off the transcript it is
sent) and the reflective rewriter of jobs.prompts.evolve (forced tool `rewritten_prompt`: the prompt it was given with
a section answering the failure signals it was shown).
Replacing Claude by this shows the prompt-evaluation path is wired end to end; it measures nothing about Claude.
"""
from __future__ import annotations

import re
from typing import Any

from telco.prompt_guidelines import acknowledges, carried, load_guidelines, sentences, strip_citations, words
from telco.testing.competent_model import _TEMPLATE, competent_reply, last_user_text
from telco.testing.scripted_api import Reply, ScriptedMessagesApi, forced_tool, text, tool_use

JUDGE_TOOL = "judge_scores"
REWRITE_TOOL = "rewritten_prompt"
PADDING = ("To give you the complete picture, I will keep you updated at every stage of this process, and you "
           "can always come back to this conversation whenever it suits you best.")
_REPLY = re.compile(r"^system: (.*)$", re.M)


def system_text(body: dict[str, Any]) -> str:
    system = body.get("system") or ""
    if isinstance(system, str):
        return system
    return "\n".join(b.get("text", "") for b in system if isinstance(b, dict))


def guided_text(template: str, follows: set[str]) -> str:
    """The reply this model writes from the template reply, given the guidelines its prompt carries."""
    parts = sentences(template)
    if "acknowledgement" in follows:
        if parts and not acknowledges(parts[0]):
            parts = ["I understand this is getting in your way."] + parts
    else:
        while len(parts) > 1 and acknowledges(parts[0]):
            parts = parts[1:]
    reply = " ".join(parts)
    if "history" not in follows:
        reply = strip_citations(reply)
    if "concision" not in follows:
        reply = f"{reply} {PADDING}"
    return reply


def judge_scores(transcript: str) -> dict[str, Any]:
    """Scores as a judge reading the transcript would give them: short replies are efficient, an acknowledged
    opening is appropriate, the expected end state reached is accurate."""
    replies = _REPLY.findall(transcript)
    mean = sum(words(r) for r in replies) / len(replies) if replies else 0.0
    reached = "end state reached: yes" in transcript
    return {"accuracy": 5 if reached else 2,
            "efficiency": 5 if mean <= 30 else 4 if mean <= 45 else 2,
            "appropriateness": 5 if replies and acknowledges(replies[0]) else 3,
            "reason": f"{len(replies)} replies, {mean:.0f} words on average"}


def rewrite(request: str) -> dict[str, Any]:
    """The prompt between <current_prompt> tags, with a section that answers the signals the failures show."""
    found = re.search(r"<current_prompt>\n(.*?)\n</current_prompt>", request, re.S)
    current = found.group(1) if found else ""
    book = load_guidelines()
    shown = [n for n in book.guidelines if f"signal: {n}" in request]
    lessons = "".join(f"\n- {book.guidelines[n].text}" for n in shown)
    return {"prompt": f"{current}\n\nWhat recent failed conversations teach:{lessons}" if lessons else current,
            "rationale": f"answers the signals {', '.join(shown) or 'none'}"}


def guided_reply(body: dict[str, Any], labels: dict[str, list[str]] | None = None) -> Reply:
    if forced_tool(body) == JUDGE_TOOL:
        return tool_use(JUDGE_TOOL, judge_scores(last_user_text(body)))
    if forced_tool(body) == REWRITE_TOOL:
        return tool_use(REWRITE_TOOL, rewrite(last_user_text(body)))
    found = _TEMPLATE.search(last_user_text(body))
    if forced_tool(body) is None and found:
        return text(guided_text(found.group(1), carried(system_text(body), load_guidelines())))
    return competent_reply(body, labels)


def guided_api(labels: dict[str, list[str]] | None = None, **kw: Any) -> ScriptedMessagesApi:
    """`api.labels` (lower-cased customer text -> intents) may be extended later, e.g. with a replay set."""
    known = {k.strip().lower(): v for k, v in (labels or {}).items()}
    api = ScriptedMessagesApi(lambda body: guided_reply(body, known), **kw)
    api.labels = known  # type: ignore[attr-defined]
    return api
