"""Typed read/write tools over the operator's OSS/BSS (the sandbox here), policy checked in code."""
from telco.tools.context import ToolContext
from telco.tools.registry import TOOLS, call_tool, get_tool, tool_schemas, validate_args
from telco.tools.spec import ToolSpec

__all__ = ["TOOLS", "ToolContext", "ToolSpec", "call_tool", "get_tool", "tool_schemas", "validate_args"]
