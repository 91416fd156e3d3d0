"""Approach routes: the ranked candidates, votes, the owner's pick, the current approach, regeneration."""

from __future__ import annotations

from fastapi import APIRouter, Response
from rally_shared.auth import CurrentUser
from rally_shared.errors import NotFound
from rally_shared.idempotency import Idempotent
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from session_service.approach import choice
from session_service.approach.schemas import ApproachRead, CandidateRead, VoteIn
from session_service.models import Approach, Session
from session_service.phases.service import request_generation
from session_service.sessions.schemas import SessionRead
from session_service.sessions.service import load_visible

router = APIRouter(prefix="/v1/sessions/{session_id}/approach", tags=["approach"])
candidates_router = APIRouter(prefix="/v1/sessions/{session_id}/approaches", tags=["approach"])


@router.get("", response_model=ApproachRead)
async def get_approach(session_id: str, db: DbSession, who: CurrentUser) -> ApproachRead:
    """The current (chosen) approach; 404 until it is chosen (the details say the AI job status and
    the state of the choice)."""
    sess, _ = await load_visible(db, session_id, who)
    approach = await db.get(Approach, sess.current_approach_id) if sess.current_approach_id else None
    if approach is None:
        status = (sess.meta.get("ai") or {}).get("approach") or {"status": "not_started"}
        if choice.choice_open(sess):
            raise NotFound(f"No approach is chosen yet (approachChoice '{sess.approach_choice}'); see "
                           f"GET /v1/sessions/{sess.id}/approaches.", code="approach_not_chosen",
                           details={"ai": status, "choice": choice.describe(sess)})
        raise NotFound("The approach is not ready yet.", code="approach_not_ready",
                       details={"ai": status, "choice": choice.describe(sess)})
    return ApproachRead.model_validate(approach)


@router.post("/regenerate", status_code=202, response_model=SessionRead)
async def regenerate(session_id: str, db: DbSession, who: CurrentUser) -> SessionRead:
    """The owner asks for new candidates; the current approach stays until they arrive, then a new
    choice opens (answers carry over where the question keys still exist)."""
    return SessionRead.model_validate(await request_generation(db, session_id, "approach", who))


async def _read(db: DbSession, sess: Session, approaches: list[Approach], who_id: str
                ) -> list[CandidateRead]:
    counts = await choice.vote_counts(db, sess)
    mine = await choice.my_vote(db, sess, who_id)
    out = []
    for a in approaches:
        item = CandidateRead.model_validate(a)
        item.votes, item.my_vote = counts.get(a.id, 0), mine == a.id
        item.chosen = sess.current_approach_id == a.id
        out.append(item)
    return out


@candidates_router.get("", response_model=Page[CandidateRead])
async def list_candidates(session_id: str, db: DbSession, who: CurrentUser, paging: Paging
                          ) -> Page[CandidateRead]:
    """The ranked candidate approaches of the latest generation (up to 3, rank 1 = the AI's first
    choice) with the votes so far; empty until the AI delivered."""
    sess, _ = await load_visible(db, session_id, who)
    rows = await choice.candidates_of(db, sess)
    pos = paging.keyset(int)
    if pos:
        rows = [a for a in rows if a.rank > pos[0]]
    page = make_page(rows[: paging.limit + 1], paging.limit, lambda a: (a.rank,))
    return Page[CandidateRead](items=await _read(db, sess, page.items, who.profile_id),
                               next_cursor=page.next_cursor)


@candidates_router.put("/{approach_id}/vote", response_model=CandidateRead)
async def vote(session_id: str, approach_id: str, db: DbSession, who: CurrentUser, idem: Idempotent,
               body: VoteIn | None = None) -> CandidateRead | Response:
    """My vote for a candidate (members only; one vote per member, changeable until the choice is
    made). In `vote` mode the choice closes when every member has voted. Voting again for the same
    candidate changes nothing; with an Idempotency-Key a retry replays the first answer even after
    the vote it completed closed the choice."""
    if (replayed := await idem.start(db, who, body)) is not None:
        return replayed
    approach = await choice.cast_vote(db, session_id, approach_id, who)
    sess, _ = await load_visible(db, session_id, who)
    return await idem.finish(200, (await _read(db, sess, [approach], who.profile_id))[0])


@candidates_router.post("/{approach_id}/choose", response_model=CandidateRead)
async def choose(session_id: str, approach_id: str, db: DbSession, who: CurrentUser) -> CandidateRead:
    """The owner (or an admin) picks a candidate: it becomes the current approach (in `vote` mode
    this closes the vote early)."""
    approach = await choice.owner_choose(db, session_id, approach_id, who)
    sess, _ = await load_visible(db, session_id, who)
    return (await _read(db, sess, [approach], who.profile_id))[0]
