"""From a candidate to an approach: roles chosen by meaning, questions from what they require.

Roles come, in this order, from the matched use case's playbook, from the ideas that are steps of
the plan (in the group's own words), and from the catalogue: the roles of the one or two kinds of
activity closest to the candidate, picked for relevance with diversity (maximal marginal
relevance), so the plan covers preparing, doing and sharing. Generic roles only fill seats nothing
else fills, and never make up more than one role in five.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from rally_shared.contracts.roles import RoleSpec

from ai_service.embeddings import Vec
from ai_service.planning.candidates import Candidate, Idea
from ai_service.planning.catalogue import COMMON, CatalogueIndex
from ai_service.planning.context import GenerationInput
from ai_service.planning.schemas import Approach, Question, Requirement, Role, Support, TaskTemplate
from ai_service.planning.steps import kind_of
from ai_service.planning.text import (
    GENERIC_VERBS,
    STEP_VERBS,
    activity_phrase,
    clean,
    content_stems,
    core,
    drop_named_places,
    goal_phrase,
    place_in,
    quote,
    slug,
    stem,
    title_of,
    words,
)
from ai_service.planning.tone import Tone

# Kinds of activity this close to the first (at most MAX_KINDS) offer roles too; the rest offer none.
# Measured on both evaluation sets: 0.03 let a dinner party's kitchen roles into a restaurant dinner
# (4 + 10 unrelated roles); a wider window with a penalty per unit of gap (0.08, 1.5) gained 0.01
# coverage but tripled unrelated roles. With 81 kinds: 0.015 let a class trip's fundraiser take
# outing roles (0.75 / 5 and 0.71 / 8 unrelated); 0.008 and 0.005 give 0.75 / 0 and 0.69 / 5.
ACTIVITY_MARGIN = 0.008
MAX_KINDS = 3
# The kind whose texts use the goal's verb most joins within this margin, when its texts use the
# verb at all (share of the verb's weight).
VERB_MARGIN = 0.10
VERB_WORDS = 0.1
# A common role must fit this much better than the kind's own roles to win a seat. Measured: 0.06
# kept both evaluation sets' coverage (0.74 and 0.68) best; 0.0 and 0.03 crowded out specific roles.
COMMON_LAG = 0.06
MAX_COMMON = 2
# A common role this close to one the plan has already says the same thing (a second money keeper).
COMMON_REDUNDANT = 0.55
COMPONENT_MATCH = 0.42  # an idea this close to a catalogue role borrows its requirements and texts
REDUNDANT = 0.80  # a catalogue role this close to a chosen one says the same thing again
DIVERSITY = 0.30
ROLE_WORDS = 0.3  # weight of the group's own words in choosing a role, beside its meaning
RELEVANCE_FLOOR = 0.35  # a catalogue role needs at least this share of the best role's relevance
DOMAIN_WORDS = 0.22  # share of a topic's words an activity's texts must use to say "this kind of plan"
DOMAIN_GAP = 0.08  # ... clearly more than any other activity


@dataclass
class Plan:
    """What every candidate of one session shares: the input, the vectors and the catalogue."""

    inp: GenerationInput
    index: CatalogueIndex
    tone: Tone
    topic_vec: Vec
    uc_vec: Vec | None
    components: list[Idea]
    comment_vecs: dict[int, Vec]  # idea order -> mean vector of its comments
    playbook: list[tuple[RoleSpec, Vec]]
    language: str | None
    person: str | None
    open_topic: bool
    uc_weight: float = 0.0  # how much the matched use case steers the roles (by its match score)
    topic_has_domain: bool = False
    group_size: int = field(init=False)

    def __post_init__(self) -> None:
        self.group_size = max(len(self.inp.members), 1)


def role_count(n: int) -> int:
    """A role per member and three spare (7 to 10): a gated role nobody fits leaves no one idle,
    and the plan names what else the activity needs if more people join."""
    return max(7, min(10, n + 3))


MIN_CATALOGUE = 5  # roles from the catalogue beside the group's own steps, so the plan is complete
MAX_ROLES = 12


def scale_max(n: int, share: float) -> int:
    return max(1, math.ceil(n * share))


def _unit(v: Vec) -> Vec:
    out: Vec = (v / max(float(np.linalg.norm(v)), 1e-9)).astype(np.float32)
    return out


def query(plan: Plan, cand: Candidate | None) -> Vec:
    """What the roles should fit: the candidate, the topic, the comments and the use case.

    When the topic asks the group to choose, the chosen idea leads ("Board games" decides the
    kind of evening); when it names a goal, the goal leads and the idea refines it.
    """
    cand_w = 0.0 if cand is None else (0.45 if plan.open_topic and not plan.topic_has_domain else 0.2)
    parts: list[tuple[float, Vec]] = [(1.0 - cand_w, plan.topic_vec)]
    if plan.components:
        # The group's own steps say what kind of plan this is ("Pre-cut the wood panels").
        parts.append((0.25, _unit(np.mean([i.vec for i in plan.components], axis=0))))
    if cand is not None:
        parts.append((cand_w, cand.vec))
        comments = [plan.comment_vecs[i.order] for i in cand.ideas if i.order in plan.comment_vecs]
        if comments:
            parts.append((0.10, _unit(np.mean(comments, axis=0))))
    if plan.uc_vec is not None:
        parts.append((plan.uc_weight, plan.uc_vec))
    return _unit(sum(w * v for w, v in parts))  # type: ignore[arg-type]


def query_words(plan: Plan, cand: Candidate | None) -> list[str]:
    texts = [plan.inp.topic, plan.inp.description] + [i.info.text for i in (cand.ideas if cand else [])]
    texts += [i.info.text for i in plan.components]
    return topic_verb(plan.inp.topic) * 2 + content_stems(drop_named_places(" ".join(texts)))


def topic_verb(topic: str) -> list[str]:
    """The verb of a goal names the kind of work ("Translate the tenants' flyer", "How should we
    raise €800"): the first specific verb among the topic's first words counts thrice."""
    for w in words(core(topic))[:6]:
        if w in STEP_VERBS and w not in GENERIC_VERBS:
            return [stem(w)]
    return []


def topic_has_domain(index: CatalogueIndex, topic: str, description: str) -> bool:
    """Whether the topic's own words name a kind of activity ("the civic hackathon", "our stall").

    "What should we do on Friday night?" names none: there the idea the group backs decides.
    """
    lex = index.lex.scores(topic_verb(topic) * 2 + content_stems(f"{topic} {description}"))
    scores = np.sort(lex[index.selectable])[::-1]
    return float(scores[0]) >= DOMAIN_WORDS and float(scores[0] - scores[1]) >= DOMAIN_GAP


def activities_for(index: CatalogueIndex, q: Vec, stems: list[str], verb: list[str] | None = None
                   ) -> list[str]:
    """The closest kind of activity first, then any about as close (within ACTIVITY_MARGIN).

    Closeness mixes meaning (the activity's own text, and its three closest roles) with the
    group's words that the activity's texts also use. The common roles are never a kind.
    The kind the goal's verb names ("Translate the tenants' flyer": translating) joins when it is
    nearly as close: the topic's nouns say whose plan it is, its verb says what work it takes.
    """
    role_sims = np.append(index.role_vecs @ q, -np.inf)  # the padding row of `role_grid` reads -inf
    top3 = np.sort(role_sims[index.role_grid], axis=1)[:, -3:].mean(axis=1)
    scores = 0.35 * (index.activity_vecs @ q) + 0.35 * top3 + 0.3 * index.lex.scores(stems)
    scores = np.where(index.selectable, scores, -np.inf)
    order = np.argsort(scores)[::-1]
    best = float(scores[order[0]])
    kinds = [index.activity_keys[i] for i in order[:MAX_KINDS]
             if best - float(scores[i]) <= ACTIVITY_MARGIN]
    if verb:
        # Of the kinds whose texts use the verb most (several may: "translate" a book club's
        # book), the closest.
        by_verb = np.where(index.selectable, index.lex.scores(verb), 0.0)
        uses = by_verb >= max(VERB_WORDS, 0.8 * float(by_verb.max()))
        i = int(np.argmax(np.where(uses, scores, -np.inf)))
        key = index.activity_keys[i]
        if uses[i] and best - float(scores[i]) <= VERB_MARGIN and key not in kinds:
            kinds = [*kinds[:MAX_KINDS - 1], key]
    return kinds


def roles_offered(plan: Plan, cand: Candidate | None) -> int:
    q = query(plan, cand)
    acts = activities_for(plan.index, q, query_words(plan, cand), topic_verb(plan.inp.topic))
    rows = [r for k in acts for r in plan.index.role_rows[k]]
    return len(plan.playbook) + len(plan.components) + int(np.sum(plan.index.role_vecs[rows] @ q >= 0.3))


@dataclass
class Slots:
    activity: str
    place: str
    object: str
    people: str

    def fill(self, text: str) -> str:
        for k in ("activity", "place", "object", "people"):
            text = text.replace("{" + k + "}", getattr(self, k))
        return text


def _slots(plan: Plan, cand: Candidate | None, title: str, activity_key: str) -> Slots:
    d = plan.index.catalogue.activities[activity_key].spec.defaults
    inp = plan.inp
    texts = [i.info.text for i in (cand.ideas if cand else [])] + [inp.topic, inp.description]
    if cand is None and not plan.open_topic:
        # "Help Grandma move" does not read as a noun; "helping Grandma move" does.
        activity = goal_phrase(inp.topic) or activity_phrase(title_of(inp.topic))
        if len(activity.split()) > 9:
            activity = "the plan"
    else:
        name = plan.index.catalogue.activities[activity_key].spec.name.lower()
        activity = activity_phrase(title) if cand else f"the {name}"
    return Slots(activity=activity, place=place_in(*texts) or d.place, object=d.object,
                 people=plan.person or d.people)


def _requirements(spec: RoleSpec) -> list[Requirement]:
    return [Requirement(question=r.question, at_least=r.at_least) if r.at_least is not None
            else Requirement(question=r.question, equals=r.equals) for r in spec.requires]


def _role(spec: RoleSpec, slots: Slots, tone: Tone, n: int, i: int, source: str, *,
          key: str | None = None, name: str | None = None, notes: str = "") -> Role:
    instructions = slots.fill(spec.task.instructions)
    if notes:
        instructions = f"{instructions} {notes}"
    carries = spec.phase == "do" and any(r.question == "has_car" for r in spec.requires)
    return Role(
        key=key or spec.key, name=name or spec.name, description=slots.fill(spec.fits_when),
        requires=_requirements(spec), min=0, max=scale_max(n, spec.share), effort=spec.effort,
        phase=spec.phase, source=source,
        task=TaskTemplate(title=name or slots.fill(spec.task.title),
                          instructions=tone.instructions(instructions, i),
                          proof_text=tone.guidance(slots.fill(spec.proof.text)),
                          proof_types=list(spec.proof.types), carries_people=carries))


def _comment_notes(idea: Idea) -> str:
    said = [quote(c.text, 100) for c in idea.info.comments if c.text.strip()][:2]
    return ("The group said: " + "; ".join(said) + ".") if said else ""


def _component_role(plan: Plan, idea: Idea, slots: Slots, allowed: list[int], n: int, i: int,
                    used: set[int]) -> tuple[Role, int | None]:
    """An idea that is a step of the plan, as a role named in the group's words."""
    index = plan.index
    sims = index.role_vecs @ idea.vec
    pool = [r for r in allowed if r not in used] + [
        r for r in np.argsort(sims)[::-1][:5].tolist() if r not in used and sims[r] >= 0.55]
    best = max(pool, key=lambda r: float(sims[r]), default=None)
    name = title_of(idea.info.text, 60)
    key = slug(name)
    notes = _comment_notes(idea)
    if best is not None and float(sims[best]) >= COMPONENT_MATCH:
        spec = index.roles[best][1]
        return _role(spec, slots, plan.tone, n, i, "idea", key=key, name=name, notes=notes), best
    kind = kind_of(idea.info.text)
    text = f"Take charge of {quote(idea.info.text, 80)} for {slots.activity}. {kind.instructions} {notes}"
    return Role(key=key, name=name, description=f"The group's own step: {quote(idea.info.text, 80)}",
                requires=[Requirement(question=q, equals=True) for q in kind.requires],
                min=0, max=scale_max(n, 0.25), effort=2, phase=kind.phase, source="idea",
                task=TaskTemplate(title=name, instructions=plan.tone.instructions(text.strip(), i),
                                  proof_text=plan.tone.guidance(kind.proof),
                                  proof_types=list(kind.proof_types),
                                  carries_people="has_car" in kind.requires)), None


def compose(plan: Plan, cand: Candidate | None, rank: int) -> Approach:
    """The approach for one candidate (None: no idea competes, the plan follows the topic)."""
    index, n = plan.index, plan.group_size
    q = query(plan, cand)
    words = query_words(plan, cand)
    acts = activities_for(index, q, words, topic_verb(plan.inp.topic))
    primary_key = acts[0]
    primary = index.catalogue.activities[primary_key]
    title = cand.title if cand else _topic_title(plan, primary.spec.name)
    slots = _slots(plan, cand, title, primary_key)
    k = min(MAX_ROLES, max(role_count(n), len(plan.playbook) + len(plan.components) + MIN_CATALOGUE))
    roles: list[Role] = []
    vecs: list[Vec] = []
    priority: list[float] = []
    used_rows: set[int] = set()
    own = [r for a in acts for r in index.role_rows[a]]
    # Roles many plans need (spreading the word, lifts, money, safety) compete with the kind's own
    # roles, a little behind them (`lag`), and never crowd them out.
    common = set(index.role_rows.get(COMMON, []))
    lag = dict.fromkeys(own, 0.0) | dict.fromkeys(common, COMMON_LAG)
    allowed = list(lag)
    # 1. The use case's playbook, closest first.
    for spec, vec in sorted(plan.playbook, key=lambda sv: -float(sv[1] @ q))[:k]:
        roles.append(_role(spec, slots, plan.tone, n, len(roles), "playbook"))
        vecs.append(vec)
        priority.append(3.0)
    # 2. The group's own steps.
    for idea in plan.components:
        if len(roles) >= k:
            break
        role, row = _component_role(plan, idea, slots, own, n, len(roles), used_rows)
        roles.append(role)
        vecs.append(idea.vec)
        priority.append(2.0)
        if row is not None:
            used_rows.add(row)
    # 3. The catalogue: relevant (by meaning, and by the group's own words), not redundant,
    #    covering prepare / do / share.
    meaning = index.role_vecs @ q
    sims = meaning + ROLE_WORDS * index.lex.role_scores(words)
    # A role far less relevant than the best one belongs to another corner of the activity (a walk
    # leader in a blood drive): fewer, fitting roles are better than a padded plan. Judged by meaning
    # alone: one role whose name repeats the topic's words must not push every other role out.
    floor = RELEVANCE_FLOOR * max((float(meaning[r]) for r in allowed if not lag[r]), default=0.0)
    while len(roles) < k:
        best_row, best_val = None, -9.0
        phases = {r.phase for r in roles}
        open_count = sum(1 for r in roles if not r.requires)
        commons = sum(1 for r in used_rows if r in common)
        for row in allowed:
            if row in used_rows or meaning[row] - lag[row] < floor:
                continue
            if row in common and commons >= MAX_COMMON:
                continue
            spec = index.roles[row][1]
            overlap = max((float(index.role_vecs[row] @ v) for v in vecs), default=0.0)
            if overlap >= (COMMON_REDUNDANT if row in common else REDUNDANT):
                continue
            val = float(sims[row]) - lag[row] - DIVERSITY * max(overlap, 0.0)
            if spec.phase not in phases:
                val += 0.06
            if not spec.requires and open_count < 2:
                val += 0.05
            if val > best_val:
                best_row, best_val = row, val
        if best_row is None:
            break
        used_rows.add(best_row)
        act_key, spec = index.roles[best_row]
        source = COMMON if act_key == COMMON else f"catalogue:{act_key}"
        roles.append(_role(spec, slots, plan.tone, n, len(roles), source))
        vecs.append(index.role_vecs[best_row])
        priority.append(float(sims[best_row]) + (0.05 if spec.phase == "do" else 0.0))
    # 4. Generic fillers, only for seats nothing else fills (at most one role in five).
    generic_left = max(1, (len(roles) + 1) // 5)
    for spec in index.catalogue.generic:
        enough = len(roles) >= 3 and sum(1 for r in roles if not r.requires) >= 1
        if enough or generic_left <= 0:
            break
        roles.append(_role(spec, slots, plan.tone, n, len(roles), "generic"))
        priority.append(-1.0)
        generic_left -= 1
    _ask_who_is_there(roles)
    _unique_keys(roles)
    # The roles the plan cannot do without (the group's own steps, then the closest catalogue roles,
    # doing before preparing) must be filled; the rest are filled as the group's size allows.
    mandatory = sorted(range(len(roles)), key=lambda i: -priority[i])[: max(min(n, len(roles)) - 1, 1)]
    for i, r in enumerate(roles):
        r.min = 1 if i in mandatory else 0
    return Approach(
        title=title, summary=_summary(plan, title, roles), rationale=_rationale(plan, cand, roles),
        roles=roles, questions=questions_for(plan, roles, slots), rank=rank,
        support=_support(cand), activity=primary_key,
        ideas=[clean(i.info.text) for i in (cand.ideas if cand else [])],
        steps=[clean(i.info.text) for i in plan.components if any(r.name == title_of(i.info.text, 60)
                                                                  for r in roles)])


def _topic_title(plan: Plan, activity_name: str) -> str:
    if plan.open_topic:
        return f"{activity_name}: {title_of(plan.inp.topic, 70).rstrip('?')}"
    return title_of(plan.inp.topic, 80).rstrip("?")


def _ask_who_is_there(roles: list[Role]) -> None:
    """A plan whose roles all need nothing still asks who can be there on the day: the doing roles
    need someone present, and without a single question the group learns nothing about each other
    before the tasks are given out (a picnic: blankets, games and food, no car, no money)."""
    if any(r.requires for r in roles):
        return
    for r in roles:
        if r.phase == "do" and r.source != "idea":
            r.requires = [Requirement(question="available", equals=True)]
            return


def _unique_keys(roles: list[Role]) -> None:
    seen: set[str] = set()
    for r in roles:
        key, i = r.key, 2
        while key in seen:
            key, i = f"{r.key[:56]}_{i}", i + 1
        r.key = key
        seen.add(key)


def _support(cand: Candidate | None) -> Support | None:
    if cand is None:
        return None
    return Support(members=len(cand.proposers | cand.backers), proposers=len(cand.proposers),
                   comments=cand.backing_comments, against=len(cand.against), votes=cand.votes)


def _summary(plan: Plan, title: str, roles: list[Role]) -> str:
    body = (", ".join(r.name.lower() if r.source != "idea" else quote(r.name, 60) for r in roles)
            + ". Everyone gets one concrete job and posts proof when it is done.")
    return plan.tone.summary(title, body[:1].upper() + body[1:])


def _rationale(plan: Plan, cand: Candidate | None, roles: list[Role]) -> str:
    parts: list[str] = []
    if cand is not None:
        parts.append(cand.support_text()[:1].upper() + cand.support_text()[1:] + ".")
    elif plan.inp.idea_list():
        parts.append("The ideas are steps of one plan, so the plan follows the topic.")
    else:
        parts.append("No ideas were posted, so the plan follows the topic.")
    steps = [quote(r.name, 60) for r in roles if r.source == "idea"]
    if steps:
        parts.append(f"The steps the group named ({', '.join(steps)}) became roles.")
    uc = plan.inp.use_case
    if uc is not None and uc.title:
        parts.append(f"Built on the use case “{clean(uc.title)}”"
                     + (" and its playbook." if plan.playbook else "."))
    open_roles = [r.name for r in roles if not r.requires]
    gated = [r.name for r in roles if r.requires]
    parts.append(f"{len(open_roles)} of {len(roles)} roles need nothing special, so every member can "
                 f"contribute" + (f"; {', '.join(gated)} go only to members whose answers fit."
                                  if gated else "."))
    return plan.tone.rationale(" ".join(parts))


def questions_for(plan: Plan, roles: list[Role], slots: Slots) -> list[Question]:
    """Only what the chosen roles require, phrased for this plan."""
    specs = plan.index.catalogue.questions
    out: list[Question] = []
    for key in dict.fromkeys(req.question for r in roles for req in r.requires):
        spec = specs.get(key)
        if spec is None:
            continue
        text = spec.text.replace("{activity}", slots.activity).replace(
            "{language}", plan.language or "the language this plan needs")
        out.append(Question(key=key, text=plan.tone.question(text), type=spec.type, unit=spec.unit,
                            options=spec.options))
    return out
