"""Keep what is valid in a flawed model answer; the builtin planner fills the rest.

A small model's JSON is often cut off at its token cap or has one bad entry. Rather than throw
the whole answer away, `parse_partial` closes a truncated JSON document at its last complete
value, and `salvage_approach` / `salvage_tasks` keep every entry that validates on its own.
What came from the model and what from the builtin planner is recorded with the generation.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ai_service.planning.schemas import Approach, Question, Role, TaskDraft


def parse_partial(text: str) -> dict[str, Any] | None:
    """The JSON object in `text`, or the longest prefix of it that closes into one; None if none."""
    t = text.strip()
    if t.startswith("```"):
        t = t.strip("`")
        t = t[4:] if t.startswith("json") else t
    start = t.find("{")
    if start < 0:
        return None
    t = t[start:]
    try:
        data = json.loads(t)
        return data if isinstance(data, dict) else None
    except ValueError:
        pass
    # Walk the text once, remembering each position where a value just ended at some depth; cut
    # there and close the open brackets. The last cut that parses wins.
    stack: list[str] = []
    in_str = esc = False
    cuts: list[tuple[int, str]] = []
    for i, ch in enumerate(t):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
                cuts.append((i + 1, "".join(reversed(stack))))
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not stack:
                break
            stack.pop()
            cuts.append((i + 1, "".join(reversed(stack))))
        elif ch.isdigit() or ch in "el":  # end of a number, true, false or null
            cuts.append((i + 1, "".join(reversed(stack))))
    for end, closing in reversed(cuts):
        candidate = t[:end].rstrip().rstrip(",:") + closing
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None


def salvage_approach(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The valid title, roles and questions of a flawed approach, and what was dropped."""
    roles, dropped = [], []
    for i, raw in enumerate(data.get("roles") or []):
        try:
            roles.append(Role.model_validate(raw).to_json())
        except (ValidationError, TypeError, ValueError):
            dropped.append(f"roles[{i}]")
    questions = []
    for i, raw in enumerate(data.get("questions") or []):
        try:
            questions.append(Question.model_validate(raw).to_json())
        except (ValidationError, TypeError, ValueError):
            dropped.append(f"questions[{i}]")
    out: dict[str, Any] = {"roles": roles, "questions": questions}
    for field in ("title", "summary", "rationale"):
        value = data.get(field)
        if isinstance(value, str) and value.strip():
            out[field] = value.strip()[:300 if field == "title" else 2000]
    return out, {"dropped": dropped}


def merge_approach(model: dict[str, Any], builtin: Approach,
                   minimum: int = 3) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's valid parts, completed from the builtin approach; returns it and the provenance."""
    roles = list(model.get("roles") or [])
    from_model = [r["key"] for r in roles]
    added: list[str] = []
    for r in builtin.roles:
        if len(roles) >= minimum:
            break
        if r.key not in from_model:
            roles.append(r.to_json())
            added.append(r.key)
    questions = list(model.get("questions") or [])
    asked = {q["key"] for q in questions}
    for q in builtin.questions:
        if q.key not in asked:
            questions.append(q.to_json())
            asked.add(q.key)
    merged = {"title": model.get("title") or builtin.title,
              "summary": model.get("summary") or builtin.summary,
              "rationale": model.get("rationale") or builtin.rationale,
              "roles": roles, "questions": questions}
    return merged, {"roles": {"model": from_model, "builtin": added},
                    "text": "model" if model.get("title") else "builtin"}


def salvage_tasks(data: dict[str, Any]) -> tuple[list[TaskDraft], list[str]]:
    """The tasks of a flawed plan that validate on their own, and the indexes dropped."""
    tasks, dropped = [], []
    for i, raw in enumerate(data.get("tasks") or []):
        try:
            tasks.append(TaskDraft.model_validate(raw))
        except (ValidationError, TypeError, ValueError):
            dropped.append(f"tasks[{i}]")
    return tasks, dropped
