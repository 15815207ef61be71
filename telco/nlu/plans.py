"""Plan names as customers say them: "Global 5G", "the Fast 300", "M-GLOBAL-5G", "the giga one".

The catalogue is built from the world's plans (id and name), by default the demo world's
(telco/data/sandbox/demo_world.yaml), so a renamed or added plan needs no code change.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

import yaml

from telco.data import DEMO_WORLD_FILE
from telco.nlu.lexicon import Lexicon, normalise

DEMO_WORLD = DEMO_WORLD_FILE
_SIZE = re.compile(r"\s+\d+(?:\.\d+)?\s*gb$")
_WORD = re.compile(r"[a-z0-9]+")


def simplify(text: str) -> str:
    """Lower case, hyphens and punctuation as spaces, "60GB" as "60 gb": one spelling for names and ids."""
    low = normalise(text)
    low = re.sub(r"(\d)(gb|mb|mbps)\b", r"\1 \2", low)
    return " ".join(_WORD.findall(low))


@dataclass
class PlanCatalogue:
    names: dict[str, str]  # plan id -> display name
    aliases: dict[str, str] = field(default_factory=dict)  # simplified alias -> plan id
    keywords: dict[str, set[str]] = field(default_factory=dict)  # single word -> plan ids whose name has it

    @classmethod
    def from_plans(cls, plans: Mapping[str, str], generic_words: Iterable[str]) -> "PlanCatalogue":
        """plans: id -> name. Aliases two plans would share are dropped rather than guessed between."""
        generic = {w.lower() for w in generic_words}
        seen: dict[str, set[str]] = {}
        keywords: dict[str, set[str]] = {}
        for pid, name in plans.items():
            kind_free = re.sub(r"^[a-z]+-", "", pid.lower())  # "m-global-5g" -> "global-5g"
            short = _SIZE.sub("", simplify(name))  # "Global 5G 60 GB" -> "global 5g"
            forms = {simplify(pid), simplify(kind_free), simplify(name), short}
            for form in forms:
                if len(form.split()) >= 2 or form == simplify(pid):  # one bare word is a keyword, not an alias
                    seen.setdefault(form, set()).add(pid)
            for word in set(short.split()) | set(simplify(kind_free).split()):
                keywords.setdefault(word, set()).add(pid)
            size = _SIZE.search(simplify(name))
            if size:  # "the 60 GB one"
                keywords.setdefault(size.group(0).strip(), set()).add(pid)
        aliases = {form: next(iter(ids)) for form, ids in seen.items() if len(ids) == 1}
        keywords = {w: ids for w, ids in keywords.items() if w not in generic}
        return cls(names=dict(plans), aliases=aliases, keywords=keywords)

    def display(self, pid: str) -> str:
        return f"{self.names[pid]} ({pid})"

    def find(self, text: str) -> list[tuple[str, int, int]]:
        """Plans named in full (id, name, or name without its data size): (plan id, start, end) as character
        spans of `text`, in order, without overlaps; the longest alias wins."""
        low = normalise(text)  # same length as text, so spans carry over
        taken: list[tuple[int, int]] = []
        hits: list[tuple[str, int, int]] = []
        for alias in sorted(self.aliases, key=len, reverse=True):
            body = r"[\s\-_]*".join(re.escape(w) for w in alias.split())
            for m in re.finditer(rf"(?<![a-z0-9]){body}(?![a-z0-9])", low):
                s, e = m.span()
                if any(s < te and ts < e for ts, te in taken):
                    continue
                taken.append((s, e))
                hits.append((self.aliases[alias], s, e))
        return sorted(hits, key=lambda h: h[1])

    def ids_in(self, text: str) -> list[str]:
        out: list[str] = []
        for pid, _, _ in self.find(text):
            if pid not in out:
                out.append(pid)
        return out

    def candidates(self, text: str) -> set[str]:
        """Plans any distinctive word of the text points at ("the giga one", "global", "the 60 GB one")."""
        simple = simplify(text)
        out: set[str] = set()
        for word, ids in self.keywords.items():
            if re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", simple):
                out |= ids
        return out

    def family(self, text: str, family_words: Iterable[str]) -> set[str]:
        """Plans sharing a family word the customer used ("a 5G plan" -> every 5G plan), for a which-one question."""
        words = set(simplify(text).split()) & {w.lower() for w in family_words}
        return {pid for pid, name in self.names.items()
                if words & (set(simplify(name).split()) | set(simplify(pid).split()))}


def load_world_plans(path: str | Path = DEMO_WORLD) -> dict[str, str]:
    """id -> name for every plan in a world file (only the plans section is read)."""
    raw = yaml.safe_load(Path(path).read_text())
    plans = raw.get("plans") or {}
    return {str(p["id"]): str(p["name"]) for p in plans.values()}


@lru_cache(maxsize=8)
def _cached(path: str, generic: tuple[str, ...]) -> PlanCatalogue:
    return PlanCatalogue.from_plans(load_world_plans(path), generic)


def demo_catalogue(lex: Lexicon) -> PlanCatalogue:
    return _cached(str(DEMO_WORLD), tuple(lex.plan_filler_words) + tuple(lex.plan_family_words))
