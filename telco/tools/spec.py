"""What a tool is: a name, read or write, one line for the LLM, typed arguments and result, the function."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from pydantic import BaseModel


@dataclass(frozen=True)
class ToolSpec:
    name: str
    kind: Literal["read", "write"]
    description: str  # one line; the LLM reads it when choosing a tool
    args_model: type[BaseModel]
    result_model: type[BaseModel]
    fn: Callable[[Any, Any], BaseModel]  # fn(ctx, validated_args) -> result_model instance

    def input_schema(self) -> dict[str, Any]:
        return self.args_model.model_json_schema()
