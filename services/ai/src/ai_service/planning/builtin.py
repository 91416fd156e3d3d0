"""The offline, deterministic planner: an approach and tasks for any topic.

Roles come from archetypes whose keywords appear in the use case, the chosen idea and the
topic; questions come from the chosen roles' requirements (plus availability); the number of
roles and their min/max scale with the group.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from ai_service.planning.context import GenerationInput, MemberInfo
from ai_service.planning.library import ACTIVITY_TITLES, ARCHETYPES, BY_KEY, Archetype
from ai_service.planning.rules import KNOWN_QUESTIONS, scale_max
from ai_service.planning.schemas import Approach, Guidance, Question, Requirement, Role, TaskDraft

WORD = re.compile(r"[a-z][a-z\-]*")


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _hits(a: Archetype, words: list[str]) -> int:
    return sum(1 for w in words if w in a.keywords or w.rstrip("s") in a.keywords)


def main_idea(inp: GenerationInput) -> str:
    ideas = [i.strip() for i in inp.ideas if i.strip()]
    if not ideas:
        return inp.topic.strip() or "the plan"
    return ideas[inp.variant % len(ideas)]


def approach_title(idea: str) -> str:
    low = idea.lower()
    for needles, title in ACTIVITY_TITLES:
        if any(n in low for n in needles):
            return title
    idea = idea.strip().rstrip(".!?")
    return (idea[:1].upper() + idea[1:])[:120] or "Group plan"


def role_count(n: int) -> int:
    """3 roles for small groups, up to 7 for a dozen members."""
    return max(3, min(7, 2 + math.ceil(n / 3)))


def choose_archetypes(inp: GenerationInput, n: int) -> list[Archetype]:
    idea = main_idea(inp)
    uc = inp.use_case
    idea_w = _words(idea)
    uc_w = _words(" ".join([uc.title, uc.prompt, uc.category or "", " ".join(uc.tags)])) if uc else []
    other_w = _words(" ".join([inp.topic, inp.description, *inp.ideas]))
    scored: list[tuple[float, int, Archetype]] = []
    for i, a in enumerate(ARCHETYPES):
        score = 3 * _hits(a, idea_w) + 2 * _hits(a, uc_w) + _hits(a, other_w)
        if score > 0 and not a.generic:
            scored.append((-score, i, a))
    scored.sort(key=lambda x: (x[0], x[1]))
    total = role_count(n)
    chosen = [a for _, _, a in scored[: total - 1]]
    for key in ("coordinator", "memory_keeper", "helper"):
        if len(chosen) >= total:
            break
        chosen.append(BY_KEY[key])
    if not any(not a.requires for a in chosen):
        chosen[-1] = BY_KEY["helper"]
    # Two open roles at least, so members without a car or money are not all piled into one.
    for key in ("memory_keeper", "helper"):
        if sum(1 for a in chosen if not a.requires) >= 2 or len(chosen) >= 7:
            break
        if BY_KEY[key] not in chosen:
            chosen.append(BY_KEY[key])
    return chosen


def _fmt(text: str, **kw: str) -> str:
    for k, v in kw.items():
        text = text.replace("{" + k + "}", v)
    return text


def plan_approach(inp: GenerationInput) -> Approach:
    """An approach for the session: roles scaled to the group, questions from the requirements."""
    n = max(len(inp.members), 1)
    idea = main_idea(inp)
    title = approach_title(idea)
    activity = f"“{title}”"
    chosen = choose_archetypes(inp, n)
    roles: list[Role] = []
    for a in chosen:
        reqs = [Requirement(question=q, equals=v) if op == "equals" else
                Requirement(question=q, at_least=float(v)) for q, op, v in a.requires]
        roles.append(Role(
            key=a.key, name=a.name, description=_fmt(a.description, activity=activity, topic=inp.topic),
            requires=reqs, min=0 if a.generic else 1, max=n if a.key == "helper" else scale_max(n, a.share),
            effort=a.effort))
    qkeys = list(dict.fromkeys(r.question for role in roles for r in role.requires))
    questions: list[Question] = [KNOWN_QUESTIONS[k] for k in qkeys if k in KNOWN_QUESTIONS]
    questions.append(KNOWN_QUESTIONS["available"])
    open_roles = [r.name for r in roles if not r.requires]
    gated = [r.name for r in roles if r.requires]
    uc = inp.use_case
    summary = (f"{title} for “{inp.topic}”: " + ", ".join(r.name.lower() for r in roles)
               + ". Everyone gets one concrete job and posts proof when it is done.")
    rationale = (f"Built from {'the use case “' + uc.title + '” and ' if uc else ''}the group's ideas. "
                 f"{len(open_roles)} of {len(roles)} roles ({', '.join(open_roles)}) need no car or "
                 f"money, so every member can contribute"
                 + (f"; {', '.join(gated)} go only to members whose answers fit." if gated else "."))
    return Approach(title=title, summary=summary, rationale=rationale, roles=roles,
                    questions=questions)


def due_at(now: datetime | None, days: int) -> datetime:
    base = (now or datetime.now(UTC)).astimezone(UTC)
    return (base + timedelta(days=days)).replace(hour=18, minute=0, second=0, microsecond=0)


def task_for(role: Role, member: MemberInfo, approach: Approach, topic: str,
             passengers: list[str] | None = None) -> TaskDraft:
    """The builtin text of one member's task in one role."""
    activity = f"“{approach.title}”"
    a = BY_KEY.get(role.key)
    if a is None:
        title = role.name
        instructions = (f"As {role.name.lower()}: {role.description.rstrip('.') or 'do your part'}. "
                        f"Agree the details with the group in the session and finish before the "
                        f"due date.")
        guidance = Guidance(text=f"Post a photo or a short note showing what you did as {role.name}",
                            proof_types=["image", "text"])
    else:
        who = ", ".join(passengers[:-1]) + f" and {passengers[-1]}" if passengers and len(passengers) > 1 \
            else (passengers[0] if passengers else "the members who need a ride")
        title = a.task_title
        instructions = _fmt(a.instructions, activity=activity, topic=f"“{topic}”", passengers=who)
        guidance = Guidance(text=a.guidance, proof_types=list(a.proof))
    return TaskDraft(profile_id=member.profile_id, role_key=role.key, title=title,
                     description=role.description or role.name, instructions=instructions,
                     content_guidance=guidance)


def write_tasks(inp: GenerationInput, approach: Approach, assignment: dict[str, str]) -> list[TaskDraft]:
    """One task per member for an assignment (profile id -> role key)."""
    roles = {r.key: r for r in approach.roles}
    members = {m.profile_id: m for m in inp.members}
    drivers = [pid for pid in members if assignment.get(pid) == "driver"]
    riders = [members[pid].name or "a member" for pid in members
              if assignment.get(pid) != "driver"]
    passengers: dict[str, list[str]] = {d: [] for d in drivers}
    for i, name in enumerate(riders):
        if drivers:
            passengers[drivers[i % len(drivers)]].append(name)
    sharing: dict[str, list[str]] = {}
    for pid in members:
        sharing.setdefault(assignment[pid], []).append(pid)
    out = []
    for pid, m in members.items():
        role = roles[assignment[pid]]
        task = task_for(role, m, approach, inp.topic, passengers.get(pid))
        peers = [members[p].name or "another member" for p in sharing[role.key] if p != pid]
        if peers and role.key != "driver":
            # Several members share a role: say so, so they split the work instead of doubling it.
            part = sharing[role.key].index(pid) + 1
            task = task.model_copy(update={
                "title": f"{task.title} (part {part} of {len(peers) + 1})",
                "instructions": f"{task.instructions} You share this role with {', '.join(peers)}: "
                                f"agree who takes which part, and take part {part}."})
        out.append(task)
    return out
