"""What crosses the boundary when people grow the knowledge base: a section added through the admin API, and the
knowledge-gap reports the learning job writes for operations to act on.

A section's text is rendered on the knowledge-base pages and quoted word for word in replies, so it is held to
the KB files' own format: plain markdown prose, one section per request, no raw HTML, no script URLs, no control
characters. The pages escape everything they render as well; refusing markup here keeps it out of memory too.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from telco.contract.body import Body

DOC_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
MAX_BODY_CHARS = 6_000  # five times the longest KB file section; a longer text is more than one question
MAX_LINE_CHARS = 120  # titles and headings
Service = Literal["mobile", "broadband", "billing", "account"]

# A tag, a comment or a doctype: '<' followed by a letter, '/', '!' or '?'. Plain prose comparisons ("< 5 Mbps")
# stay allowed.
_MARKUP = re.compile(r"<\s*[A-Za-z/!?]")
_SCRIPT_URL = re.compile(r"\b(?:javascript|vbscript|data)\s*:", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEADING_LINE = re.compile(r"^\s{0,3}#{1,6}\s", re.MULTILINE)

# The same rules as one pattern over the text as sent, which the OpenAPI document carries, so a client (and the
# API fuzzing) can tell an acceptable section from the schema alone. Measured on the raw text they are a little
# stricter than the checks above (a control character or the length counts before whitespace is tidied); every
# field is checked against its pattern as well, so what the schema allows is exactly what is accepted.
_NOT_MARKUP = r"(?![\s\S]*<\s*[A-Za-z/!?])"
_NOT_SCRIPT = (r"(?![\s\S]*\b(?:[jJ][aA][vV][aA][sS][cC][rR][iI][pP][tT]|[vV][bB][sS][cC][rR][iI][pP][tT]"
               r"|[dD][aA][tT][aA])\s*:)")
_NO_CONTROL = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
LINE_RULE = re.compile(rf"^(?=[\s\S]*\S){_NOT_MARKUP}{_NOT_SCRIPT}{_NO_CONTROL}{{1,{MAX_LINE_CHARS}}}$")
HEADING_RULE = re.compile(rf"^(?=[\s\S]*[A-Za-z0-9]){_NOT_MARKUP}{_NOT_SCRIPT}{_NO_CONTROL}{{1,{MAX_LINE_CHARS}}}$")
BODY_RULE = re.compile(rf"^(?=[\s\S]*\S){_NOT_MARKUP}{_NOT_SCRIPT}(?!\s*#{{1,6}}\s)"
                       rf"(?![\s\S]*\n\s{{0,3}}#{{1,6}}\s){_NO_CONTROL}{{1,{MAX_BODY_CHARS}}}$")


def _fits(raw: str, rule: re.Pattern[str], what: str) -> None:
    if not rule.match(raw):
        raise ValueError(f"the {what} does not fit the section format (plain text, at most the length allowed, no "
                         "markup, script URLs, control characters or heading lines)")


def _plain(value: str, what: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(f"the {what} contains control characters")
    found = _MARKUP.search(value)
    if found:
        raise ValueError(f"the {what} contains HTML markup ({value[found.start():found.start() + 12]!r}); "
                         "write plain markdown text")
    if _SCRIPT_URL.search(value):
        raise ValueError(f"the {what} contains a script or data URL; link only to http(s) pages")
    return value


def _line(value: str, what: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError(f"the {what} must not be empty")
    if len(value) > MAX_LINE_CHARS:
        raise ValueError(f"the {what} is {len(value)} characters; at most {MAX_LINE_CHARS}")
    return _plain(value, what)


class KbSectionIn(Body):
    """POST /v1/admin/kb/sections: one section of a knowledge-base document, as markdown.

    `doc_id` names an existing document (the section is added to it) or a new one (then `title` and `services`
    are required). The section's anchor is made from the heading, so posting the same heading again replaces the
    section's text (or changes nothing when the text is the same)."""

    doc_id: str = Field(min_length=1, max_length=64, pattern=DOC_ID,
                        description="document id: lowercase words joined by hyphens, e.g. esim")
    title: str | None = Field(default=None, description="the document's title (required for a new document)",
                              json_schema_extra={"pattern": LINE_RULE.pattern})
    heading: str = Field(description="the section's heading: the question it answers",
                         json_schema_extra={"pattern": HEADING_RULE.pattern})
    body: str = Field(description=f"the section's text, markdown without headings or HTML, at most "
                                  f"{MAX_BODY_CHARS} characters", json_schema_extra={"pattern": BODY_RULE.pattern})
    kind: Literal["policy", "manual"] = "manual"
    services: list[Service] = Field(default=[], max_length=4,
                                    description="what the document is about (required for a new document)")
    gap_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                               description="the knowledge gap this section closes (GET /v1/ops/knowledge-gaps)")

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value is None:
            return None
        line = _line(value, "title")
        _fits(value, LINE_RULE, "title")
        return line

    @field_validator("heading")
    @classmethod
    def _heading(cls, value: str) -> str:
        raw, value = value, _line(value, "heading")
        if not re.search(r"[A-Za-z0-9]", value):
            raise ValueError("the heading needs letters or digits to make the section's anchor from")
        _fits(raw, HEADING_RULE, "heading")
        return value

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        raw, value = value, value.replace("\r\n", "\n").strip()
        if not value:
            raise ValueError("the body must not be empty")
        if len(value) > MAX_BODY_CHARS:
            raise ValueError(f"the body is {len(value)} characters; at most {MAX_BODY_CHARS}")
        if _HEADING_LINE.search(value):
            raise ValueError("the body must not contain markdown headings: post each section on its own, "
                             "with its heading in `heading`")
        value = _plain(value, "body")
        _fits(raw, BODY_RULE, "body")
        return value


class KbSectionOut(Body):
    section_id: str  # "<doc_id>#<slug>", the citation handle
    doc_id: str
    title: str
    heading: str
    kind: str
    services: list[str]
    body: str
    chunks: int  # how many indexed chunks the section became
    gap_id: str | None = None
    added_by: str
    added_at: datetime
    updated_at: datetime
    url: str  # the page that shows it: /kb/<doc_id>#<slug>
    created: bool = False  # this request added the section
    changed: bool = False  # this request wrote anything (False: the same text was posted again)


class KnowledgeGapOut(Body):
    """GET /v1/ops/knowledge-gaps: questions the knowledge agent could not answer, clustered by meaning."""

    gap_id: str
    question: str  # the question closest to the middle of the cluster
    examples: list[str]  # up to five distinct questions of the cluster
    count: int  # how many questions the cluster holds
    best_score: float | None  # the closest any KB section came to one of them (cosine); None: nothing retrieved
    reasons: dict[str, int]  # low_score | not_helpful | handed_over -> questions
    first_seen: datetime
    last_seen: datetime
    addressed: bool  # a section added through the admin route names this gap
    sections: list[str] = []  # those sections' ids
