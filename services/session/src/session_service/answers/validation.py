"""Checking a member's answers against the approach's questions (types, options, sizes)."""

from __future__ import annotations

from typing import Any

from rally_shared.errors import Unprocessable


def validate_answers(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    by_key = {q.get("key"): q for q in questions}
    unknown = [k for k in answers if k not in by_key]
    if unknown:
        raise Unprocessable(f"Unknown question keys {unknown}; the questions are {list(by_key)}.",
                            details={"unknown": unknown})
    problems: dict[str, str] = {}
    for key, value in answers.items():
        if value is None:
            continue  # an explicit "no answer"
        qtype = by_key[key].get("type", "text")
        if qtype == "boolean" and not isinstance(value, bool):
            problems[key] = "expects true or false"
        elif qtype == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
            problems[key] = "expects a number"
        elif qtype == "number" and not (-1e9 < float(value) < 1e9):
            problems[key] = "is out of range"
        elif qtype == "choice" and value not in (by_key[key].get("options") or []):
            problems[key] = f"expects one of {by_key[key].get('options') or []}"
        elif qtype == "text" and (not isinstance(value, str) or len(value) > 1000):
            problems[key] = "expects a text of at most 1000 characters"
    if problems:
        first = next(iter(problems))
        raise Unprocessable(f"answers.{first} {problems[first]}.", details=problems)
    return {k: v for k, v in answers.items() if v is not None}
