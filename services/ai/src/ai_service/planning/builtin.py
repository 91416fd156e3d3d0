"""The offline, deterministic planner: ranked approaches and tasks for any topic.

`plan_approaches` reads the group's ideas and comments (`candidates`), then builds each of the
top three candidates into an approach (`composer`): roles from the use case's playbook, from the
ideas that are steps, and from the role catalogue by meaning; questions from what those roles
require; every text in the use case's tone. `write_tasks` turns an assignment into one task per
member from the roles' task templates.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import numpy as np

from ai_service.embeddings import Embedder, Vec
from ai_service.planning.candidates import (
    Candidate,
    Idea,
    classify,
    cluster,
    count_support,
    dedupe,
    rank,
    readable,
)
from ai_service.planning.catalogue import CatalogueIndex, catalogue_index
from ai_service.planning.composer import Plan, compose, role_count, roles_offered, topic_has_domain
from ai_service.planning.context import GenerationInput, MemberInfo
from ai_service.planning.schemas import Approach, ContentGuidance, Role, TaskDraft
from ai_service.planning.text import clean, form_of, goal_core, is_open_question, language_in, person_in
from ai_service.planning.tone import Tone, tone_of

MAX_CANDIDATES = 3
_CACHE_SIZE = 4096
_vec_cache: OrderedDict[tuple[str, str], Vec] = OrderedDict()

__all__ = ["plan_approaches", "write_tasks", "due_at", "role_count"]


async def embed_texts(embedder: Embedder, texts: list[str]) -> list[Vec]:
    """Unit vectors of texts, remembered (LRU) so the same ideas are not embedded twice."""
    missing = list(dict.fromkeys(t for t in texts if (embedder.model_id, t) not in _vec_cache))
    if missing:
        vecs = await embedder.embed(missing)
        for t, v in zip(missing, vecs, strict=True):
            _vec_cache[(embedder.model_id, t)] = np.asarray(v, dtype=np.float32)
        while len(_vec_cache) > _CACHE_SIZE:
            _vec_cache.popitem(last=False)
    out = []
    for t in texts:
        v = _vec_cache[(embedder.model_id, t)]
        _vec_cache.move_to_end((embedder.model_id, t))
        out.append(v)
    return out


def _use_case_weight(score: float | None, matched_by: str) -> float:
    """An explicit use case steers fully; a similarity match steers as much as it is similar."""
    if matched_by == "explicit":
        return 0.25
    if score is None:
        return 0.0
    return 0.25 * min(max((score - 0.45) / 0.3, 0.0), 1.0)


def tone_for(inp: GenerationInput) -> Tone:
    return Tone(tone_of(inp.use_case.template_style if inp.use_case else None))


async def plan_approaches(inp: GenerationInput, embedder: Embedder,
                          index: CatalogueIndex | None = None) -> list[Approach]:
    """Up to three approaches, ranked; the first is the planner's choice."""
    index = index or await catalogue_index(embedder)
    infos = dedupe(inp.idea_list())
    uc = inp.use_case
    topic_text = clean(f"{inp.topic}. {inp.description}".strip(" ."))
    uc_text = clean(f"{uc.title}. {uc.prompt}") if uc and (uc.title or uc.prompt) else ""
    playbook = list(uc.roles) if uc else []
    comment_texts = [[clean(c.text) for c in i.comments if clean(c.text)] for i in infos]
    goal = goal_core(inp.topic)
    fallback_text = topic_text or "a group plan"
    texts = [fallback_text, uc_text or fallback_text, goal or fallback_text]
    texts += [clean(i.text) or "idea" for i in infos]
    texts += [t for ts in comment_texts for t in ts]
    texts += [f"{r.name}. {r.fits_when}" for r in playbook]
    vecs = await embed_texts(embedder, texts)
    topic_vec, uc_vec = vecs[0], (vecs[1] if uc_text else None)
    if goal:
        # "Build birdhouses" says what the work is; "with the kids at the Saturday club" is context.
        blend = vecs[0] + vecs[2]
        topic_vec = (blend / max(float(np.linalg.norm(blend)), 1e-9)).astype(np.float32)
    idea_vecs = vecs[3: 3 + len(infos)]
    pos = 3 + len(infos)
    comment_vecs: dict[int, Vec] = {}
    for order, ts in enumerate(comment_texts):
        if ts:
            comment_vecs[order] = np.mean(vecs[pos: pos + len(ts)], axis=0)
            pos += len(ts)
    playbook_vecs = vecs[pos:]
    # Ideas of emoji or symbols only carry no plan: they are kept out of roles and candidates.
    ideas = [Idea(info, v, form_of(info.text), order=i)
             for i, (info, v) in enumerate(zip(infos, idea_vecs, strict=True)) if readable(info.text)]
    open_topic = is_open_question(inp.topic)
    classify(ideas, open_topic, index.role_vecs)
    alternatives = [i for i in ideas if not i.component]
    plan = Plan(inp=inp, index=index, tone=tone_for(inp), topic_vec=topic_vec, uc_vec=uc_vec,
                components=[i for i in ideas if i.component], comment_vecs=comment_vecs,
                playbook=list(zip(playbook, playbook_vecs, strict=True)),
                language=language_in(inp.topic, inp.description, *[i.text for i in infos]),
                person=person_in(inp.topic, inp.description), open_topic=open_topic,
                uc_weight=_use_case_weight(uc.score if uc else None, uc.matched_by if uc else ""),
                topic_has_domain=topic_has_domain(index, inp.topic, inp.description))
    cands: list[Candidate] = cluster(alternatives)
    for c in cands:
        count_support(c)
        fit = float(c.vec @ topic_vec)
        if uc_vec is not None:
            fit = 0.6 * fit + 0.4 * float(c.vec @ uc_vec)
        c.fit = fit
        c.roles_offered = roles_offered(plan, c)
    ranked: list[Candidate | None] = list(rank(cands, plan.group_size)) or [None]
    if inp.variant and len(ranked) > 1:
        # A regeneration asks for something new: the next candidate leads.
        shift = inp.variant % len(ranked)
        ranked = ranked[shift:] + ranked[:shift]
    return [compose(plan, c, i + 1) for i, c in enumerate(ranked[:MAX_CANDIDATES])]


def due_at(now: datetime | None, days: int) -> datetime:
    base = (now or datetime.now(UTC)).astimezone(UTC)
    return (base + timedelta(days=days)).replace(hour=18, minute=0, second=0, microsecond=0)


def _names(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def task_for(role: Role, member: MemberInfo, tone: Tone, n: int,
             passengers: list[str] | None = None) -> TaskDraft:
    """The builtin text of one member's task in one role."""
    t = role.task
    if t is None:
        # A role without a template (a model's approach): its own description, in the plan's tone.
        what = role.description.rstrip(".") or f"do the {role.name.lower()} part of the plan"
        title = role.name
        instructions = tone.instructions(
            f"As {role.name.lower()}: {what}. Agree the details with the group in the session and "
            f"finish before the due date.", n)
        guidance = ContentGuidance(text=tone.guidance(f"Post a photo or a short note showing what you did as "
                                               f"{role.name}"), proof_types=["image", "text"])
    else:
        title, instructions = t.title, t.instructions
        if t.carries_people:
            instructions += (f" Your passengers: {_names(passengers)}." if passengers
                             else " Offer lifts in the session to anyone who needs one.")
        guidance = ContentGuidance(text=t.proof_text, proof_types=list(t.proof_types))
    return TaskDraft(profile_id=member.profile_id, role_key=role.key, title=title,
                     description=role.description or role.name, instructions=instructions,
                     content_guidance=guidance)


def write_tasks(inp: GenerationInput, approach: Approach, assignment: dict[str, str]) -> list[TaskDraft]:
    """One task per member for an assignment (profile id -> role key)."""
    roles = {r.key: r for r in approach.roles}
    members = {m.profile_id: m for m in inp.members}
    tone = tone_for(inp)
    drivers = [pid for pid in members
               if (r := roles[assignment[pid]]).task is not None and r.task.carries_people]
    riders = [members[pid].name or "a member" for pid in members if pid not in drivers
              and members[pid].answers.get("available") not in (False, "false")]
    passengers: dict[str, list[str]] = {d: [] for d in drivers}
    for i, name in enumerate(riders):
        if drivers:
            passengers[drivers[i % len(drivers)]].append(name)
    sharing: dict[str, list[str]] = {}
    for pid in members:
        sharing.setdefault(assignment[pid], []).append(pid)
    out = []
    for i, (pid, m) in enumerate(members.items()):
        role = roles[assignment[pid]]
        task = task_for(role, m, tone, i, passengers.get(pid))
        peers = [members[p].name or "another member" for p in sharing[role.key] if p != pid]
        if peers and pid not in drivers:
            # Several members share a role: say so, so they split the work instead of doubling it.
            part = sharing[role.key].index(pid) + 1
            task = task.model_copy(update={
                "title": f"{task.title} (part {part} of {len(peers) + 1})",
                "instructions": f"{task.instructions} You share this role with {_names(peers)}: "
                                f"agree who takes which part, and take part {part}."})
        out.append(task)
    return out
