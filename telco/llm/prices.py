"""The model price table (telco/data/llm_prices.yaml) and the cost of one call's token counts.

The numbers are configuration to be checked against the provider's current price list, never measurements.
"""
from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from telco.errors import InvalidInput


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(ge=0)
    cache_read: float = Field(ge=0)
    aliases: tuple[str, ...] = ()


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = "USD"
    per_tokens: int = Field(default=1_000_000, ge=1)
    checked: date | None = None  # when someone last compared the table with the provider's list
    models: dict[str, ModelPrice]

    @model_validator(mode="after")
    def _unique_names(self) -> "PriceTable":
        seen: dict[str, str] = {}
        for name, price in self.models.items():
            for n in (name, *price.aliases):
                if n in seen:
                    raise ValueError(f"model name {n!r} is listed twice (under {seen[n]!r} and {name!r})")
                seen[n] = name
        return self

    def price(self, model: str) -> ModelPrice:
        if model in self.models:
            return self.models[model]
        for price in self.models.values():
            if model in price.aliases:
                return price
        raise InvalidInput(f"model {model!r} has no price in the LLM price table; add it to "
                           f"telco/data/llm_prices.yaml (known: {', '.join(sorted(self.models))})")

    def cost(self, model: str, *, input_tokens: int = 0, output_tokens: int = 0,
             cache_creation_input_tokens: int = 0, cache_read_input_tokens: int = 0) -> float:
        p = self.price(model)
        total = (input_tokens * p.input + output_tokens * p.output
                 + cache_creation_input_tokens * p.cache_write + cache_read_input_tokens * p.cache_read)
        return total / self.per_tokens


def load_prices(path: str | Path) -> PriceTable:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InvalidInput(f"LLM price table {path}: cannot be read ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise InvalidInput(f"LLM price table {path}: not valid YAML ({err})") from None
    try:
        return PriceTable.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'table'}: "
                             f"{str(e['msg']).removeprefix('Value error, ')}" for e in err.errors())
        raise InvalidInput(f"LLM price table {path}: {problems}") from None


@lru_cache(maxsize=8)
def cached_prices(path: str) -> PriceTable:
    """The table at `path`, read once per process (every client of a replica shares it)."""
    return load_prices(path)
