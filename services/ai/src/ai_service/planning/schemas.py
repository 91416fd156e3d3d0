"""The contract's AI output shapes (CONTRACT.md section 4), validated with pydantic.

`model_dump(by_alias=True, exclude_none=True)` gives exactly the contract JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from rally_shared.contracts.approach import (
    PROOF_TYPES,
    QUESTION_TYPES,
    Approach,
    ContentGuidance,
    Question,
    Requirement,
    Role,
    Support,
    TaskTemplate,
)
from rally_shared.contracts.roles import QUESTION_KEYS

# The approach vocabulary lives in rally_shared.contracts.approach; re-exported for the planner.
__all__ = ["PROOF_TYPES", "QUESTION_TYPES", "Approach", "ContentGuidance", "Question", "Requirement",
           "Role", "Support", "TaskTemplate", "TaskDraft", "TaskPlan"]



class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class TaskDraft(_Model):
    profile_id: str
    role_key: str
    title: str = Field(min_length=1)
    description: str = ""
    instructions: str = Field(min_length=1)
    content_guidance: ContentGuidance


class TaskPlan(_Model):
    tasks: list[TaskDraft]


def approach_json_schema(member_count: int = 12) -> dict[str, Any]:
    """JSON schema handed to the LLM for an approach: bounded, so a model must close it.

    Strings have a maxLength, arrays a maxItems and question keys an enum, so grammar-constrained
    output cannot run away into a reply the token cap cuts off.
    """
    n = max(member_count, 1)
    req = {"type": "object", "properties": {
        "question": {"type": "string", "enum": list(QUESTION_KEYS)}, "equals": {"type": "boolean"},
        "atLeast": {"type": "number", "minimum": 0, "maximum": 10000}},
        "required": ["question"], "additionalProperties": False}
    role = {"type": "object", "properties": {
        "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,39}$", "maxLength": 40},
        "name": {"type": "string", "minLength": 1, "maxLength": 60},
        "description": {"type": "string", "maxLength": 200},
        "requires": {"type": "array", "items": req, "maxItems": 2},
        "min": {"type": "integer", "minimum": 0, "maximum": n},
        "max": {"type": "integer", "minimum": 1, "maximum": n},
        "effort": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["key", "name", "description", "requires", "min", "max", "effort"],
        "additionalProperties": False}
    question = {"type": "object", "properties": {
        "key": {"type": "string", "enum": list(QUESTION_KEYS)},
        "text": {"type": "string", "minLength": 1, "maxLength": 160},
        "type": {"type": "string", "enum": list(QUESTION_TYPES)}, "unit": {"type": "string", "maxLength": 10},
        "options": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 6}},
        "required": ["key", "text", "type"], "additionalProperties": False}
    return {"type": "object", "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 80},
        "summary": {"type": "string", "maxLength": 400},
        "rationale": {"type": "string", "maxLength": 400},
        "roles": {"type": "array", "items": role, "minItems": 3, "maxItems": 7},
        "questions": {"type": "array", "items": question, "maxItems": 6}},
        "required": ["title", "summary", "rationale", "roles", "questions"], "additionalProperties": False}


def tasks_json_schema(role_keys: list[str] | None = None,
                      member_ids: list[str] | None = None) -> dict[str, Any]:
    """JSON schema for the task plan: one task per member, role keys and member ids as enums."""
    pid: dict[str, Any] = {"type": "string", "enum": list(member_ids)} if member_ids else {"type": "string"}
    rkey: dict[str, Any] = {"type": "string", "enum": list(role_keys)} if role_keys else {"type": "string"}
    task = {"type": "object", "properties": {
        "profileId": pid, "roleKey": rkey,
        "title": {"type": "string", "minLength": 1, "maxLength": 80},
        "description": {"type": "string", "maxLength": 160},
        "instructions": {"type": "string", "minLength": 1, "maxLength": 400},
        "contentGuidance": {"type": "object", "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 160},
            "proofTypes": {"type": "array", "items": {"type": "string", "enum": list(PROOF_TYPES)},
                           "minItems": 1, "maxItems": 3}},
            "required": ["text", "proofTypes"], "additionalProperties": False}},
        "required": ["profileId", "roleKey", "title", "instructions", "contentGuidance"],
        "additionalProperties": False}
    tasks: dict[str, Any] = {"type": "array", "items": task}
    if member_ids:
        tasks.update(minItems=len(member_ids), maxItems=len(member_ids))
    return {"type": "object", "properties": {"tasks": tasks}, "required": ["tasks"],
            "additionalProperties": False}


def token_budget(schema: dict[str, Any]) -> int:
    """An upper bound on the tokens a reply to `schema` needs (about 3.5 characters a token)."""
    kind = schema.get("type")
    if "enum" in schema:
        return 2 + int(max(len(str(v)) for v in schema["enum"]) // 3)
    if kind == "string":
        return 2 + int(schema.get("maxLength", 200) / 3.5)
    if kind == "array":
        return 2 + int(schema.get("maxItems", 8)) * (1 + token_budget(schema.get("items", {})))
    if kind == "object":
        props = schema.get("properties", {})
        return 2 + sum(2 + len(k) // 4 + token_budget(v) for k, v in props.items())
    return 4
