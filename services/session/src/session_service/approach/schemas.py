"""Approach API schemas (contract section 4 plus ids, rank and votes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field
from rally_shared.contracts.envelope import CamelModel


class ApproachRead(CamelModel):
    id: uuid.UUID
    session_id: uuid.UUID
    title: str
    summary: str
    rationale: str
    roles: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    generation_id: str
    version: int
    rank: int = Field(1, description="1 = the AI's first choice among the candidates of its generation")
    support: dict[str, Any] | None = Field(
        None, description="the group's support the AI counted (members, proposers, comments, against)")
    created_at: datetime


class CandidateRead(ApproachRead):
    """A candidate approach with the votes so far."""

    votes: int = Field(0, description="members' votes for this candidate so far")
    my_vote: bool = Field(False, description="whether the caller voted for this candidate")
    chosen: bool = Field(False, description="whether this candidate is the session's current approach")


class VoteIn(CamelModel):
    """The vote's body is empty (`{}`): the candidate is in the path."""
