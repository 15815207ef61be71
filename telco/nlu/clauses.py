"""Splitting a message into the clauses a customer might raise separate issues in.

"My internet is slow. Also, can I upgrade?" -> "My internet is slow" (a statement) and "can I upgrade" (an ask).
Sentences split at . ! ? ; and line breaks; inside a sentence a conjunction opener ("and can I", "plus"), a
contrast ("but") or an adverb opener after a comma (", also") starts a new clause. Leading connectives are
dropped, and fragments too short to mean anything on their own are left out. Lexicons: telco/data/nlu.yaml.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from telco.nlu.lexicon import Lexicon, normalise

_EDGE = re.compile(r"^[\s,;:.!?\-]+|[\s,;:.!?\-]+$")


@dataclass(frozen=True)
class Clause:
    text: str  # the customer's words
    core: str  # the same without hedges ("maybe", "I'm not sure"): what gets classified
    asks: bool  # a question, a request, or marked as another matter: it may raise an intent of its own
    context: bool  # says something works ("calls work fine"): describes the problem, is never one


def _sentences(text: str) -> list[str]:
    # A sentence ends at . ! ? ; followed by a space (so "20.00" stays whole), or at a line break.
    out: list[str] = []
    for line in text.splitlines():
        out.extend(s for s in re.split(r"(?<=[.!?;])\s+", line) if s.strip())
    return out


def _without_hedges(piece: str, lex: Lexicon) -> str:
    # normalise() keeps lengths, so hedge spans found in it can be cut from the customer's own casing.
    kept, last = [], 0
    for m in lex.hedge_re.finditer(normalise(piece)):
        kept.append(piece[last:m.start()])
        last = m.end()
    kept.append(piece[last:])
    core = _EDGE.sub("", " ".join(" ".join(kept).split()))
    return core if len(core.split()) >= 2 else piece


def split_clauses(text: str, lex: Lexicon) -> list[Clause]:
    clauses: list[Clause] = []
    for sentence in _sentences(text):
        low = normalise(sentence)
        question = sentence.rstrip().endswith("?")
        starts = {m.start() for m in lex.conjunction_opener_re.finditer(low) if m.start() > 0}
        starts |= {m.start(1) for m in lex.adverb_opener_re.finditer(low)}
        contrasts = {m.start() for m in lex.contrast_opener_re.finditer(low) if m.start() > 0}
        cuts = [0, *sorted(starts | contrasts), len(sentence)]
        for a, b in zip(cuts, cuts[1:]):
            piece = sentence[a:b]
            opened = (a in starts) or bool(lex.opener_start_re.match(normalise(piece)))
            lead = lex.connective_re.match(normalise(piece))
            if lead:
                piece = piece[lead.end():]
            piece = _EDGE.sub("", piece)
            if len(piece.split()) < lex.multi_intent.min_words:
                continue
            plain = normalise(piece)
            last = b == len(sentence)
            asks = (opened or (question and last) or bool(lex.ask_start_re.match(plain))
                    or bool(lex.additional_re.search(plain)))
            context = ((bool(lex.working_fine_re.search(plain)) or bool(lex.working_fine_end_re.search(plain)))
                       and not lex.negation_re.search(plain))
            clauses.append(Clause(piece, _without_hedges(piece, lex), asks, context))
    return clauses
