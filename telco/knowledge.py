"""Knowledge-base loader: turns telco/data/kb/*.md into typed documents split into citable sections.

A KB file is YAML front matter followed by `## ` sections. Each section is meant to answer one question on
its own, so retrieval indexes sections (not whole files) and cites them as "<doc_id>#<slug>".
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from telco.data import KB_DIR, RETRIEVAL_EVAL_FILE
from telco.errors import InvalidInput, NotFound

_ID = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
_HEADING = re.compile(r"^## +(.+?)\s*$", re.MULTILINE)


def slugify(heading: str) -> str:
    """Stable anchor for a heading: lowercase words joined by hyphens, punctuation dropped."""
    words = re.findall(r"[a-z0-9]+", heading.lower().replace("'", ""))
    return "-".join(words)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KbSection(_Frozen):
    id: str = Field(pattern=rf"^{_ID}#{_ID}$")  # "<doc_id>#<slug>", the citation handle
    heading: str = Field(min_length=1)
    text: str = Field(min_length=1)


class KbDocument(_Frozen):
    id: str = Field(pattern=rf"^{_ID}$")
    title: str = Field(min_length=1)
    kind: Literal["policy", "manual"]
    services: list[Literal["mobile", "broadband", "billing", "account"]] = Field(min_length=1)
    updated: date
    sections: list[KbSection] = Field(min_length=1)

    def section(self, slug: str) -> KbSection:
        for s in self.sections:
            if s.id == f"{self.id}#{slug}":
                return s
        raise NotFound(f"document {self.id!r} has no section {slug!r}")


class _FrontMatter(_Frozen):
    id: str = Field(pattern=rf"^{_ID}$")
    title: str = Field(min_length=1)
    kind: Literal["policy", "manual"]
    services: list[Literal["mobile", "broadband", "billing", "account"]] = Field(min_length=1)
    updated: date


def parse_document(text: str, source: str = "<string>") -> KbDocument:
    """Parse one KB file; any structural problem raises InvalidInput naming the source and the defect."""
    match = _FRONT_MATTER.match(text)
    if not match:
        raise InvalidInput(f"{source}: missing YAML front matter (the file must start with a '---' block)")
    try:
        raw = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInput(f"{source}: front matter must be a mapping of fields, got {type(raw).__name__}")
    try:
        meta = _FrontMatter.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'front matter'}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"{source}: bad front matter: {problems}") from exc

    body = text[match.end():]
    headings = list(_HEADING.finditer(body))
    if not headings:
        raise InvalidInput(f"{source}: no '## ' sections after the front matter")
    # Text outside a section could never be cited, so it is rejected rather than silently dropped.
    if body[: headings[0].start()].strip():
        raise InvalidInput(f"{source}: text before the first '## ' section; put it inside a section")

    sections: list[KbSection] = []
    seen: set[str] = set()
    for i, h in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(body)
        heading = h.group(1)
        slug = slugify(heading)
        if not slug:
            raise InvalidInput(f"{source}: heading {heading!r} has no letters or digits to make an anchor from")
        if slug in seen:
            raise InvalidInput(f"{source}: two sections share the anchor {slug!r}; headings must differ")
        seen.add(slug)
        section_text = body[h.end(): end].strip()
        if not section_text:
            raise InvalidInput(f"{source}: section {heading!r} is empty")
        sections.append(KbSection(id=f"{meta.id}#{slug}", heading=heading, text=section_text))
    return KbDocument(**meta.model_dump(), sections=sections)


def load_documents(dir: Path | str | None = None) -> list[KbDocument]:
    """All KB documents in `dir` (default telco/data/kb), sorted by file name.

    Each id must equal its file name, which also makes ids unique within a directory.
    """
    root = Path(dir) if dir is not None else KB_DIR
    if not root.is_dir():
        raise InvalidInput(f"knowledge-base directory {str(root)!r} does not exist")
    docs: list[KbDocument] = []
    for path in sorted(root.glob("*.md")):
        doc = parse_document(path.read_text(encoding="utf-8"), source=str(path))
        # The file name is the id so a citation can be traced to its file without loading everything.
        if doc.id != path.stem:
            raise InvalidInput(f"{path}: front matter id {doc.id!r} must equal the file name {path.stem!r}")
        docs.append(doc)
    if not docs:
        raise InvalidInput(f"knowledge-base directory {str(root)!r} holds no .md documents")
    return docs


def merge_documents(base: list[KbDocument], added: list[KbDocument]) -> list[KbDocument]:
    """The KB files plus the sections people added through the admin route: a section added to a file's document
    is appended to it (the file's own sections keep their place); an added document follows the files."""
    out = {d.id: d for d in base}
    for doc in added:
        have = out.get(doc.id)
        if have is None:
            out[doc.id] = doc
            continue
        known = {s.id for s in have.sections}
        extra = [s for s in doc.sections if s.id not in known]
        if extra:
            out[doc.id] = have.model_copy(update={"sections": [*have.sections, *extra],
                                                   "updated": max(have.updated, doc.updated)})
    return list(out.values())


# A sentence ends at . ! or ? followed by space and a capital, digit or opening quote/bracket. The KB is written
# in plain prose without abbreviations like "e.g.", which is what makes a rule this simple enough.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def split_sentences(text: str) -> tuple[str, ...]:
    """The sentences the knowledge agent may quote from a section's text, whitespace flattened."""
    flat = " ".join(text.split())
    return tuple(s for s in _SENTENCE_END.split(flat) if s)


def titled(doc_title: str, heading: str, text: str) -> str:
    """Text as memory indexes it and questions are compared with it: customers name the topic ("roaming") as often
    as the details, so the document title and heading come first. One shape for KB chunks (memory.semantic) and
    the knowledge agent's sections, so a short section's chunk vector is that section's vector."""
    return f"{doc_title}: {heading}\n{text}"


def indexed_text(doc: KbDocument, section: KbSection) -> str:
    """A whole section as a question is compared with it."""
    return titled(doc.title, section.heading, section.text)


def compared_texts(docs: list[KbDocument]) -> list[str]:
    """Every text the knowledge agent compares questions with: each section's indexed text, then each sentence
    (memory keeps their vectors, so an agent starts without embedding them: memory/text_vectors.py)."""
    pairs = [(d, s) for d in docs for s in d.sections]
    return [indexed_text(d, s) for d, s in pairs] + [t for _, s in pairs for t in split_sentences(s.text)]


def find_section(docs: list[KbDocument], section_id: str) -> KbSection:
    """Resolve a citation "<doc_id>#<slug>" against loaded documents."""
    doc_id, sep, slug = section_id.partition("#")
    if not sep or not slug:
        raise InvalidInput(f"section id {section_id!r} must look like '<doc_id>#<section-slug>'")
    for doc in docs:
        if doc.id == doc_id:
            return doc.section(slug)
    raise NotFound(f"no knowledge-base document {doc_id!r}")


RETRIEVAL_EVAL_PATH = RETRIEVAL_EVAL_FILE


class RetrievalCase(_Frozen):
    """One labelled retrieval question: the KB section that best answers it."""

    question: str = Field(min_length=1)
    expected: str = Field(pattern=rf"^{_ID}#{_ID}$")


def load_retrieval_eval(path: Path | str | None = None) -> list[RetrievalCase]:
    """The labelled retrieval set (default telco/data/retrieval_eval.yaml), validated entry by entry."""
    source = Path(path) if path is not None else RETRIEVAL_EVAL_PATH
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{source}: cannot read the retrieval set: {exc}") from exc
    if not isinstance(raw, list):
        raise InvalidInput(f"{source}: the retrieval set must be a list of {{question, expected}} entries")
    cases: list[RetrievalCase] = []
    for i, entry in enumerate(raw):
        try:
            cases.append(RetrievalCase.model_validate(entry))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in exc.errors())
            raise InvalidInput(f"{source}: entry {i}: {problems}") from exc
    return cases
