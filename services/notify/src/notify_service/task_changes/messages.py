"""What a member reads when their task changes hands or the owner edits it: pure wording, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from notify_service.approaches.messages import Message
from notify_service.text import quoted, sentence, when

Reason = Literal["owner", "member_left", "claimed", "member_joined"]
# How a changed field is named to the holder, in the order they are listed.
FIELD_NAMES = {"title": "title", "instructions": "instructions", "dueAt": "due date"}


def _in(topic: str) -> str:
    return f" in {quoted(topic)}" if topic else ""


def given_away(title: str, topic: str, *, reason: Reason, actor: str, taker: str | None) -> Message:
    """To the member whose task went to someone else (not when they left: they hear nothing)."""
    task = f"Your task {quoted(title)}" if title else "Your task"
    if taker is None:
        why = f"{sentence(actor)} offered it to the group: any member who fits may claim it."
    elif reason == "claimed":
        why = f"{sentence(taker)} took it over."
    elif reason == "member_joined":
        why = f"It went to {taker}, who just joined."
    else:
        why = f"{sentence(actor)} gave it to {taker}."
    return Message(f"{task} was given to someone else{_in(topic)}",
                   f"{why} You no longer need to do it.")


def changed(topic: str, *, fields: Sequence[str], due_at: datetime | None, editor: str) -> Message:
    """To the holder of a task the owner (or an admin) edited: what changed, and the new due date."""
    named = [FIELD_NAMES[f] for f in FIELD_NAMES if f in fields]
    parts = []
    if "title" in fields:
        parts.append("It has a new title.")
    if "instructions" in fields:
        parts.append("Read the new instructions before you start.")
    if "dueAt" in fields:
        parts.append(f"It is now due {when(due_at)}." if due_at else "It no longer has a due date.")
    return Message(f"{sentence(editor)} changed your task{_in(topic)}: {', '.join(named)}",
                   " ".join(parts))
