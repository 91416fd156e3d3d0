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


def surviving_answers(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers that still fit another approach's questions: same key, and still a valid value
    (a choice whose options changed, or a question whose type changed, loses the answer)."""
    keys = {q.get("key") for q in questions}
    out: dict[str, Any] = {}
    for key, value in answers.items():
        if key not in keys or value is None:
            continue
        try:
            out.update(validate_answers(questions, {key: value}))
        except Unprocessable:
            continue
    return out
