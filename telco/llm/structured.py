"""Pydantic models as tools: the forced decision tool, the caller's own tools, and reading a tool's input back.

A structured decision is a tool call the model is forced to make (tool_choice names the tool); the tool's
input_schema is the pydantic model's JSON schema and the input is validated by the same model, so the API's
schema and our check can never drift apart.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from telco.errors import InvalidInput

T = TypeVar("T", bound=BaseModel)

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_MAX_PROBLEM_CHARS = 1500  # a repair message long enough to act on, short enough not to bloat the next request


@dataclass(frozen=True)
class LlmTool:
    """A tool the model may call before it decides (e.g. a read from the OSS/BSS port).

    The caller supplies `run`; arguments are validated with `args` first, so `run` only ever sees valid input.
    What `run` returns is sent back as JSON; a TelcoError it raises goes back to the model as an error result.
    """

    name: str
    description: str
    args: type[BaseModel]
    run: Callable[[Any], Awaitable[Any]]

    def __post_init__(self) -> None:
        check_tool_name(self.name)


def check_tool_name(name: str) -> str:
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise InvalidInput(f"tool name must be 1-64 letters, digits, '_' or '-', got {name!r}")
    return name


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _object_schema(model: type[BaseModel]) -> dict[str, Any]:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise InvalidInput(f"a decision schema must be a pydantic model class, got {model!r}")
    schema = model.model_json_schema()
    if schema.get("type") != "object":
        raise InvalidInput(f"{model.__name__} does not describe a JSON object; a tool input must be one")
    return schema


def decision_tool(model: type[BaseModel], name: str | None = None) -> dict[str, Any]:
    """The tool block for a decision; the same model always gives the same block (a cacheable prefix)."""
    return copy.deepcopy(_decision_tool(model, name))


@lru_cache(maxsize=256)
def _decision_tool(model: type[BaseModel], name: str | None) -> dict[str, Any]:
    tool_name = check_tool_name(name or snake(model.__name__))
    doc = " ".join((model.__doc__ or "").split())
    return {"name": tool_name,
            "description": doc or f"Record the {tool_name.replace('_', ' ')} decision.",
            "input_schema": _object_schema(model)}


def tool_param(tool: LlmTool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "input_schema": _object_schema(tool.args)}


def read_input(model: type[T], raw: Any) -> tuple[T | None, str | None]:
    """(value, None) when `raw` is a valid input for `model`, else (None, what is wrong, phrased for the model)."""
    if isinstance(raw, str):  # some answers carry the object as a JSON string
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            return None, f"the tool input is not valid JSON ({err.msg} at character {err.pos})"
    if not isinstance(raw, dict):
        return None, f"the tool input must be a JSON object, got {type(raw).__name__}"
    try:
        return model.model_validate(raw), None
    except ValidationError as err:
        parts = [f"{'.'.join(str(p) for p in e['loc']) or '(object)'}: {e['msg']}" for e in err.errors()]
        text = "; ".join(parts)
        if len(text) > _MAX_PROBLEM_CHARS:
            text = text[:_MAX_PROBLEM_CHARS] + " ..."
        return None, f"the tool input does not match the schema: {text}"
