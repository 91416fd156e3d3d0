"""The price table: USD per 1000 prompt and completion tokens, by model, from an editable YAML file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_FILE = Path(__file__).with_name("prices.yaml")


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    default: Price
    models: dict[str, Price] = Field(default_factory=dict)

    def price_of(self, model: str) -> Price:
        """The exact model, else the longest listed name the model's name starts with, else `default`."""
        if model in self.models:
            return self.models[model]
        hits = [name for name in self.models if model.startswith(name)]
        return self.models[max(hits, key=len)] if hits else self.default

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        p = self.price_of(model)
        return round(prompt_tokens / 1000 * p.prompt + completion_tokens / 1000 * p.completion, 6)


class PriceTableError(ValueError):
    pass


@lru_cache(maxsize=4)
def load_prices(path: str = "") -> PriceTable:
    """The table at `path` (default: the shipped prices.yaml); a broken file fails with its name."""
    file = Path(path) if path else DEFAULT_FILE
    try:
        return PriceTable.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise PriceTableError(f"price table {file}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise PriceTableError(f"price table {file}: {where}: {first.get('msg')}") from exc
