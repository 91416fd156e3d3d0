"""Small helpers for the human-readable titles and bodies of notifications."""

from __future__ import annotations

PHASE_LABELS = {"ideation": "ideation", "approaches": "approaches", "tasks": "tasks",
                "submission": "submission", "completed": "completed"}


def phase_label(phase: str | None) -> str:
    return PHASE_LABELS.get(phase or "", phase or "")


def quoted(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"“{text}”"
