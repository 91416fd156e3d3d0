"""Phase-change request."""

from __future__ import annotations

from typing import Literal

from rally_shared.contracts.envelope import CamelModel


class PhaseChange(CamelModel):
    to: str


class GenerationRetry(CamelModel):
    kind: Literal["approach", "tasks"]
