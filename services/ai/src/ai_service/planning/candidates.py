"""Candidate approaches from the group's ideas: steps become roles, alternatives compete on support.

1. Each idea is a *component* (a step of one plan: "Rent a van" under "Help Grandma move") or an
   *alternative* (a plan of its own: "Karaoke night" under "What should we do?"), from its form,
   the topic's form and its meaning relative to the roles and activities of the catalogue.
2. Alternatives are grouped by meaning (same words or close embeddings): "Board games" and
   "bring our board games" are one candidate.
3. A candidate's score is its support (distinct members who proposed or backed it, minus those
   who argued against it, plus votes), then its fit with the topic and the use case, then how
   many complementary roles it offers for the group's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ai_service.embeddings import Vec
from ai_service.planning.context import IdeaInfo
from ai_service.planning.text import core, stance, title_of, words

SAME_IDEA = 0.55  # cosine above which two alternatives are the same candidate
MAX_IDEAS = 300  # more than any group posts; bounds the work on pathological input

STOP = frozenset("""a an the and or of to for in on at with our my we us let lets let's some
go do have play get make some more new this that it its be is are up out our your their all
one two night evening day time together""".split())


@dataclass
class Idea:
    info: IdeaInfo
    vec: Vec
    form: str  # step | event | thing
    component: bool = False
    order: int = 0


@dataclass
class Candidate:
    ideas: list[Idea]
    vec: Vec
    proposers: set[str] = field(default_factory=set)
    backers: set[str] = field(default_factory=set)
    against: set[str] = field(default_factory=set)
    backing_comments: int = 0
    votes: int = 0
    fit: float = 0.0
    roles_offered: int = 0
    score: float = 0.0

    @property
    def lead(self) -> Idea:
        """The idea that names the candidate: the most engaged with, then the earliest."""
        return max(self.ideas, key=lambda i: (len(i.info.comments), -i.order))

    @property
    def title(self) -> str:
        return title_of(self.lead.info.text)

    @property
    def support(self) -> float:
        return len(self.proposers | self.backers) - len(self.against - self.proposers) + self.votes

    def support_text(self) -> str:
        """Why this candidate, in counts the group can check."""
        n = len(self.proposers)
        label = core(self.lead.info.text)
        label = label[:1].lower() + label[1:] if label[1:2].islower() else label
        parts = [f"{n} member{'s' if n != 1 else ''} proposed {label}"]
        if self.backing_comments:
            c = self.backing_comments
            parts.append(f"{c} comment{'s' if c != 1 else ''} backed it")
        if self.against:
            a = len(self.against)
            parts.append(f"{a} member{'s' if a != 1 else ''} argued against it")
        if self.votes:
            parts.append(f"{self.votes} vote{'s' if self.votes != 1 else ''}")
        return "; ".join(parts)


def dedupe(ideas: tuple[IdeaInfo, ...]) -> list[IdeaInfo]:
    """Merge ideas with the same words (case, spaces, punctuation and emoji aside): support adds up."""
    out: dict[str, IdeaInfo] = {}
    for info in ideas[: MAX_IDEAS * 2]:
        key = " ".join(words(info.text)) or info.text.strip()
        if not key:
            continue
        first = out.get(key)
        if first is None:
            out[key] = info
        elif len(out) <= MAX_IDEAS:
            again = (info.profile_id,) if info.profile_id and info.profile_id != first.profile_id else ()
            out[key] = replace(first, comments=first.comments + info.comments,
                               votes=first.votes + info.votes,
                               co_proposers=first.co_proposers + again + info.co_proposers)
    return list(out.values())[:MAX_IDEAS]


SIBLING = 0.45  # two option-like ideas this close are alternatives of each other
STEP_SIBLING = 0.55  # two steps must be closer still ("Pair people one-to-one" / "Match everyone")
STEP_ROLE = 0.45  # an option-like idea this close to a catalogue role is still a step


def readable(text: str) -> bool:
    """Whether an idea has words the planner can read (not only emoji or symbols)."""
    return any(len(w) >= 2 for w in words(text))


def classify(ideas: list[Idea], open_topic: bool, role_vecs: Vec) -> None:
    """Mark each idea a component (a step of the plan) or an alternative (a plan of its own).

    A topic that asks the group to choose ("What should we do?", "Which design?") makes its ideas
    alternatives, except clear steps close to a catalogue role. A topic that names a goal ("Help
    Grandma move") makes its ideas steps, except option-like ideas ("Campsite at Wastwater", "Wild
    camp by the lake") that have a sibling: ideas that close to each other are options to choose from.
    """
    if not ideas:
        return
    role_sim = [float(np.max(role_vecs @ i.vec)) if len(role_vecs) else 0.0 for i in ideas]
    if open_topic:
        for idea, rs in zip(ideas, role_sim, strict=True):
            idea.component = idea.form == "step" and rs >= 0.6
        return
    def close(a: Idea, b: Idea) -> bool:
        bar = SIBLING if a.form != "step" and b.form != "step" else STEP_SIBLING
        return float(a.vec @ b.vec) >= bar

    paired = {id(a) for a in ideas for b in ideas if a is not b and close(a, b)}
    for idea, rs in zip(ideas, role_sim, strict=True):
        option_like = idea.form in ("thing", "event") and rs < STEP_ROLE
        idea.component = not (id(idea) in paired or (paired and option_like))


def cluster(alternatives: list[Idea]) -> list[Candidate]:
    """Group alternatives by meaning, greedily in posting order (deterministic)."""
    cands: list[Candidate] = []
    for idea in alternatives:
        content = {w for w in words(core(idea.info.text)) if w not in STOP}
        best, best_sim = None, SAME_IDEA
        for c in cands:
            sim = float(c.vec @ idea.vec) / max(float(np.linalg.norm(c.vec)), 1e-9)
            shared = content & {w for i in c.ideas for w in words(core(i.info.text)) if w not in STOP}
            if shared and _stems_match(shared):
                sim += 0.25
            if sim > best_sim:
                best, best_sim = c, sim
        if best is None:
            cands.append(Candidate([idea], idea.vec.copy()))
        else:
            best.ideas.append(idea)
            best.vec = np.mean([i.vec for i in best.ideas], axis=0)
    for c in cands:
        norm = float(np.linalg.norm(c.vec))
        c.vec = (c.vec / max(norm, 1e-9)).astype(np.float32)
    return cands


def _stems_match(shared: set[str]) -> bool:
    return any(len(w) > 2 for w in shared)


def count_support(c: Candidate) -> None:
    for idea in c.ideas:
        if idea.info.profile_id:
            c.proposers.add(idea.info.profile_id)
        c.votes += idea.info.votes
        c.proposers.update(idea.info.co_proposers)
        for com in idea.info.comments:
            s = stance(com.text)
            if s < 0:
                c.against.add(com.profile_id)
            elif com.profile_id != idea.info.profile_id:
                c.backers.add(com.profile_id)
                c.backing_comments += 1
    # Someone who argued against it and also backed it (changed their mind): their last word counts.
    c.against -= c.backers


def rank(cands: list[Candidate], group_size: int) -> list[Candidate]:
    """Support first; fit and the roles it offers break near-ties; posting order breaks exact ties."""
    n = max(group_size, 1)
    for c in cands:
        c.score = c.support + 0.8 * c.fit + 0.3 * min(c.roles_offered, n) / n
    return sorted(cands, key=lambda c: (-round(c.score, 6), min(i.order for i in c.ideas)))
