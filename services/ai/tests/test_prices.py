"""The price table: an editable file, read at start-up; spend comes from real token counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from ai_service.config import Settings
from ai_service.generations.service import cost_of
from ai_service.prices import PriceTableError, load_prices


def test_shipped_table_prices_models_by_name_and_prefix() -> None:
    table = load_prices()
    assert table.price_of("gpt-4o-mini-2024-07-18") == table.models["gpt-4o-mini"]  # the longest prefix
    assert table.price_of("gpt-4o-2024-08-06") == table.models["gpt-4o"]
    assert table.price_of("some-new-model") == table.default
    assert cost_of(Settings(), "gpt-4o", 1000, 2000) == pytest.approx(0.0025 + 0.02)
    assert cost_of(Settings(), "smollm2", 5000, 5000) == 0.0
    assert cost_of(Settings(), "builtin-2+catalogue-x", 0, 0) == 0.0


def test_an_edited_table_is_used(tmp_path: Path) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text("version: 1\ndefault: {prompt: 1.0, completion: 2.0}\nmodels:\n  house-model: {prompt: 0.5, completion: 0.5}\n")
    settings = Settings(llm_prices_file=str(f))
    assert cost_of(settings, "house-model", 2000, 2000) == 2.0
    assert cost_of(settings, "other", 1000, 1000) == 3.0


@pytest.mark.parametrize(("text", "message"), [
    ("version: 1\nmodels: {}\n", r"default: Field required"),
    ("version: 1\ndefault: {prompt: -1, completion: 0}\n", r"default\.prompt: Input should be greater than"),
    ("version: 1\ndefault: {prompt: 1, completion: 1}\nmodels:\n  m: {prompt: 1}\n", r"models\.m\.completion"),
    ("version: [1\n", r"price table .*prices\.yaml"),
])
def test_a_broken_table_fails_naming_the_entry(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text(text)
    with pytest.raises(PriceTableError, match=message):
        load_prices(str(f))
