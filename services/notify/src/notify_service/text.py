"""Small helpers for the human-readable titles and bodies of notifications."""

from __future__ import annotations

from datetime import UTC, datetime

from rally_shared.contracts.session import Phase

PHASE_LABELS = {"ideation": "ideation", "approaches": "approaches", "tasks": "tasks",
                "submission": "submission", "completed": "completed"}


def phase_label(phase: Phase | None) -> str:
    return PHASE_LABELS.get(phase or "", phase or "")


def quoted(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"“{text}”"


def when(at: datetime) -> str:
    """A moment as members read it in every notification: minutes, in UTC."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M UTC")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def sentence(text: str) -> str:
    """`text` as the start of a sentence (a name or role written mid-sentence elsewhere)."""
    return text[:1].upper() + text[1:]
