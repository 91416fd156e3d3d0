"""What members read about the plans (the AI's candidate approaches): pure wording, no I/O.

Members meet approaches as "plans"; the person who picks (owner mode) is named when the
membership projection knows their name.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from rally_shared.contracts.session import ApproachChoice, CandidateVotes

from notify_service.text import plural, quoted, sentence, when


class Message(NamedTuple):
    title: str
    body: str


def _ready(n: int) -> str:
    return f"{plural(n, 'plan')} {'is' if n == 1 else 'are'} ready" if n else "The plans are ready"


def _closes(closes_at: datetime | None) -> str:
    return f" (closes {when(closes_at)})" if closes_at else ""


def vote(n: int, topic: str, closes_at: datetime | None) -> Message:
    """To every member when the group chooses by vote."""
    return Message(
        f"{_ready(n)}: compare them and vote{_closes(closes_at)}",
        f"Vote for the plan you like best in {quoted(topic)}. The one with the most votes is "
        "taken; a tie goes to the AI's first choice.")


def pick(n: int, topic: str) -> Message:
    """To the owner when they choose."""
    return Message(f"{_ready(n)}: pick one",
                   f"Compare them in {quoted(topic)} and pick the one the group will do.")


def wait_for_pick(n: int, topic: str, picker: str) -> Message:
    """To the other members when the owner chooses."""
    return Message(f"{_ready(n)}; {picker} will pick one",
                   f"Have a look at them in {quoted(topic)} while {picker} picks.")


def replaced(n: int, topic: str, *, choice: ApproachChoice, carried: int, is_owner: bool,
             picker: str, closes_at: datetime | None) -> Message:
    """To every member when the plans were generated again."""
    parts = [f"The plans were generated again: {plural(n, 'new plan') if n else 'new plans'}."]
    if carried:
        # The event names the questions that carried over, not whose answers did: what was
        # already answered to them is kept for whoever answered.
        parts.append(f"Answers already given to {plural(carried, 'question')} carried over.")
    if choice == "vote":
        parts.append(f"Compare them and vote{_closes(closes_at)}.")
    elif choice == "owner":
        parts.append("Pick one." if is_owner else f"{sentence(picker)} will pick one.")
    else:
        parts.append("The AI's first choice is taken.")
    return Message(f"New plans are ready in {quoted(topic)}", " ".join(parts))


def _how(how: ApproachChoice, reason: str, approach_id: str, votes: list[CandidateVotes],
         picker: str) -> str:
    if how == "owner":
        return f"{sentence(picker)} picked it."
    if reason == "single_candidate":
        return "It was the only plan."
    if how == "auto":
        return "It is the AI's first choice."
    mine = next((v.votes for v in votes if v.approach_id == approach_id), 0)
    total = sum(v.votes for v in votes)
    if total == 0:
        return "Nobody voted, so the AI's first choice is taken."
    tally = f"{mine} of {plural(total, 'vote')}"
    said = {"deadline": f"Voting closed; it had the most votes ({tally}).",
            "all_voted": f"Everyone voted; it had the most votes ({tally})."
            }.get(reason, f"The group voted for it ({tally}).")
    if any(v.votes == mine for v in votes if v.approach_id != approach_id):
        said += " Tied on votes, it won as the AI's higher-ranked plan."
    return said


def chosen(plan: str, topic: str, *, how: ApproachChoice, reason: str, approach_id: str,
           votes: list[CandidateVotes], picker: str, asks_answers: bool) -> Message:
    """To every member once the plan is chosen; it asks for answers when tasks follow."""
    body = _how(how, reason, approach_id, votes, picker)
    if asks_answers:
        body += " Answer its questions so your task fits you."
    return Message(f"Plan chosen in {quoted(topic)}: {plan or 'see the session'}", body)


def answers_missing(topic: str, asker: str | None) -> Message:
    """To each member who has not answered the chosen plan's questions."""
    why = f"{sentence(asker)} is waiting for your answers." if asker else \
        "The time to answer ends soon."
    return Message(f"Your answers are missing in {quoted(topic)}",
                   f"{why} Answer the questions of the chosen plan so you get a task that fits you.")
