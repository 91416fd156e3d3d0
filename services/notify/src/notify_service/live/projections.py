"""What a client may see of an internal event: one explicit allow-list per event type.

Events on NATS are written for services (the AI prompt and raw response, every member's answers,
audit records). The live streams send a *projection*: the fields named here, shaped for the one
viewer who reads them. A field no rule names is dropped, and an event type without a rule is not
sent at all, so a new event or field reaches clients only after someone decides it may.

Each rule also names the fields it withholds on purpose (`hidden`): a test checks that every field
of every contract event is either shown or hidden, which forces that decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# (value, viewer profile id) -> the value the viewer may see.
Shape = Callable[[Any, str], Any]
# session: everyone allowed to read the session's stream; recipient: only `data.profileId`, on
# their own stream; nobody: never sent to a client.
Audience = Literal["session", "recipient", "nobody"]


def keep(value: Any, viewer: str) -> Any:
    """The value as it is: a public contract shape that REST shows members as well."""
    return value


@dataclass(frozen=True)
class Obj:
    """An object allow-list: the `shown` fields pass through their shape, every other one is dropped."""

    shown: Mapping[str, Shape]
    hidden: frozenset[str] = frozenset()

    def __call__(self, value: Any, viewer: str) -> Any:
        if not isinstance(value, dict):
            return None
        return {k: shape(value[k], viewer) for k, shape in self.shown.items() if k in value}


@dataclass(frozen=True)
class Each:
    """A list whose items each take `item`'s shape."""

    item: Shape

    def __call__(self, value: Any, viewer: str) -> Any:
        return [self.item(v, viewer) for v in value] if isinstance(value, list) else []


def shown(*names: str, **shaped: Shape) -> dict[str, Shape]:
    """Fields kept as they are, plus fields with their own shape."""
    return {**dict.fromkeys(names, keep), **shaped}


def own_answers_by_member(value: Any, viewer: str) -> Any:
    """`{profileId: answers}` -> only the viewer's entry: REST shows each member their own answers."""
    if not isinstance(value, dict):
        return {}
    return {viewer: value[viewer]} if viewer in value else {}


# The fields of a MemberContext this rule knows; a test fails when the contract adds one.
MEMBER_FIELDS = frozenset({"profileId", "name", "answers"})


def _member(value: Any, viewer: str) -> Any:
    """A member of a session context: name for everyone, answers for the member only."""
    if not isinstance(value, dict):
        return None
    out = {k: value[k] for k in ("profileId", "name") if k in value}
    if value.get("profileId") == viewer and "answers" in value:
        out["answers"] = value["answers"]
    return out


# SessionContext: the AI's input. Members keep their name; answers stay with their author only.
CONTEXT = Obj(
    shown("sessionId", "topic", "description", "useCaseId", "ownerId", "ideas", "ideaDetails",
          "approachId", "approach", "tasksDueAt", members=Each(_member)))


@dataclass(frozen=True)
class Rule:
    audience: Audience
    data: Obj = field(default_factory=lambda: Obj({}))
    why: str = ""  # for `nobody` rules: why clients never see this event


def _session(*names: str, hidden: tuple[str, ...] = (), **shaped: Shape) -> Rule:
    return Rule("session", Obj(shown(*names, **shaped), frozenset(hidden)))


RULES: dict[str, Rule] = {
    # -- session --------------------------------------------------------------------------------
    "rally.session.created": _session(
        "sessionId", "topic", "description", "ownerId", "useCaseId", "visibility", "phase",
        "phaseFlow", "sessionType", "approachChoice"),
    "rally.session.member_joined": _session("sessionId", "profileId", "name", "role"),
    "rally.session.idea_posted": _session("sessionId", "ideaId", "profileId", "text"),
    "rally.session.comment_posted": _session("sessionId", "ideaId", "commentId", "profileId", "text"),
    "rally.session.phase_changed": _session(
        "sessionId", "from", "to", "actorId", "reason", "ownerId", "topic", "memberIds", "deadlineAt",
        context=CONTEXT),
    "rally.session.answers_submitted": _session("sessionId", "profileId", "questionKeys"),
    "rally.session.generation_requested": _session("sessionId", "kind", "actorId", context=CONTEXT),
    "rally.session.approach_chosen": _session(
        "sessionId", "approachId", "generationId", "rank", "title", "how", "reason", "actorId", "votes",
        "ownerId", "topic", "memberIds"),
    "rally.session.member_left": _session("sessionId", "profileId", "reason", "actorId", "ownerId"),
    "rally.session.deleted": _session("sessionId", "ownerId", "actorId", "memberIds"),
    "rally.session.approaches_ready": _session(
        "sessionId", "generationId", "approachIds", "approachChoice", "voteClosesAt", "replaced",
        "carriedQuestionKeys", "chosenApproachId", "ownerId", "topic", "memberIds"),
    "rally.session.answers_missing": _session(
        "sessionId", "approachId", "profileIds", "ownerId", "topic", "actorId", "deadlineAt"),
    # -- ai -------------------------------------------------------------------------------------
    "rally.ai.generation_started": _session("sessionId", "kind", "generationId"),
    # Which provider, model and template answered, and what it cost, is for admins' analytics.
    "rally.ai.approach_generated": _session(
        "sessionId", "approachId", "generationId", "approach", "useCase", "alternatives",
        hidden=("generatedBy",)),
    # The prompt and raw response are admin-only over REST; answers stay with their author.
    "rally.ai.tasks_generated": _session(
        "sessionId", "generationId", "approachId", "ownerId", "memberIds", "tasks", "roles",
        memberAnswers=own_answers_by_member, hidden=("aiPrompt", "aiResponse", "generatedBy")),
    # The same text the session's `meta` shows members over REST.
    "rally.ai.generation_failed": _session("sessionId", "kind", "generationId", "error", "retryable"),
    "rally.ai.generation_rated": Rule(
        "nobody", why="ratings are feedback for admins; who rated what is nobody else's business"),
    # -- tasks ----------------------------------------------------------------------------------
    "rally.tasks.assigned": _session("taskId", "sessionId", "profileId", "roleKey", "title", "dueAt"),
    "rally.tasks.stored": _session("sessionId", "generationId", "taskIds"),
    "rally.tasks.post_submitted": _session(
        "postId", "taskId", "sessionId", "profileId", "ownerId", "proofTypes"),
    "rally.tasks.rejected": _session("taskId", "sessionId", "profileId", "reason"),
    "rally.tasks.completed": _session("taskId", "sessionId", "profileId"),
    "rally.tasks.all_completed": _session("sessionId", "taskCount", "memberIds"),
    "rally.tasks.reassigned": _session(
        "taskId", "sessionId", "fromProfileId", "toProfileId", "reason", "actorId", "roleKey", "title"),
    "rally.tasks.updated": _session("taskId", "sessionId", "profileId", "fields", "dueAt", "actorId"),
    # -- notify ---------------------------------------------------------------------------------
    "rally.notify.delivered": Rule("recipient", Obj(shown(
        "notificationId", "profileId", "sessionId", "kind", "channel", "title"))),
    # -- admin and audit ------------------------------------------------------------------------
    "rally.admin.use_case_upserted": Rule("nobody", why="use cases and their prompts are admin data"),
    "rally.admin.use_case_deleted": Rule("nobody", why="use cases are admin data"),
    "rally.admin.session_type_upserted": Rule("nobody", why="session types reach clients over REST"),
    "rally.admin.session_type_deleted": Rule("nobody", why="session types reach clients over REST"),
    "rally.admin.content_moderated": Rule(
        "nobody", why="who moderated what, and why, is admin data; the content's owner applies it"),
    "rally.audit.recorded": Rule("nobody", why="audit records hold before/after snapshots of any entity"),
}


def live_subjects() -> list[str]:
    """The subjects whose events a client may see: the hub subscribes to these only, so events no
    client sees (the audit log's snapshots above all, the most frequent) never reach it."""
    return sorted(t for t, rule in RULES.items() if rule.audience != "nobody")


def rule_for(event: Mapping[str, Any]) -> Rule | None:
    """The rule of an event's type; None (and so never sent) for a type without one."""
    rule = RULES.get(str(event.get("type", "")))
    return rule if rule is not None and rule.audience != "nobody" else None


def route(event: Mapping[str, Any]) -> tuple[Literal["session", "profile"], str] | None:
    """Which stream an event belongs to: ("session", id), ("profile", id) or None (not sent)."""
    rule = rule_for(event)
    data = event.get("data")
    if rule is None or not isinstance(data, dict):
        return None
    key = data.get("sessionId") if rule.audience == "session" else data.get("profileId")
    if not key:
        return None
    return ("session" if rule.audience == "session" else "profile", str(key))


def project(event: Mapping[str, Any], viewer: str) -> dict[str, Any] | None:
    """The event as `viewer` may see it: the envelope's public fields and the allowed data."""
    rule = rule_for(event)
    if rule is None:
        return None
    return {"id": event.get("id", ""), "type": event.get("type", ""),
            "occurredAt": event.get("occurredAt"), "data": rule.data(event.get("data"), viewer) or {}}
