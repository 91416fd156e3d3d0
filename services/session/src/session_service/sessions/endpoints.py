"""Session routes: create, read, list mine, update, delete, join, leave, members, invites."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from rally_shared.auth import CurrentUser
from rally_shared.idempotency import Idempotent
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from session_service.approach import choice
from session_service.sessions import departures, invites, service
from session_service.sessions import repository as repo
from session_service.sessions.schemas import (
    InviteCreate,
    InviteRead,
    MemberJoin,
    MemberRead,
    SessionCreate,
    SessionRead,
    SessionUpdate,
)

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


def _read(sess: object, role: str | None) -> SessionRead:
    out = SessionRead.model_validate(sess)
    out.my_role = role
    return out


@router.post("", status_code=201, response_model=SessionRead)
async def create_session(body: SessionCreate, db: DbSession, who: CurrentUser, idem: Idempotent
                         ) -> SessionRead | Response:
    """Create a session; the creator becomes its owner and first member."""
    if (replayed := await idem.start(db, who, body)) is not None:
        return replayed
    sess = await service.create_session(db, body, who)
    return await idem.finish(201, _read(sess, "owner"))


@router.get("", response_model=Page[SessionRead])
async def list_my_sessions(
    db: DbSession, who: CurrentUser, paging: Paging,
    phase: Annotated[Literal["ideation", "approaches", "tasks", "submission", "completed"] | None,
                     Query()] = None,
) -> Page[SessionRead]:
    """Sessions I belong to, newest first."""
    pos = paging.keyset(datetime, uuid.UUID)
    rows = await repo.list_sessions_of(db, who.profile_id, paging.limit,
                                       (pos[0], pos[1]) if pos else None, phase)
    page = make_page(rows, paging.limit, lambda r: (r[0].created_at, r[0].id))
    return Page[SessionRead](items=[_read(sess, role) for sess, role in page.items],
                             next_cursor=page.next_cursor)


@router.get("/{session_id}", response_model=SessionRead)
async def get_session(session_id: str, db: DbSession, who: CurrentUser) -> SessionRead:
    sess, member = await service.load_visible(db, session_id, who)
    return _read(sess, member.role if member else None)


@router.patch("/{session_id}", response_model=SessionRead)
async def update_session(session_id: str, body: SessionUpdate, db: DbSession, who: CurrentUser
                         ) -> SessionRead:
    """The owner changes the topic, description, visibility, deadlines or `approachChoice` (the last
    only before the approach is chosen; switching an open choice to `auto` takes rank 1 at once)."""
    sess = await service.update_session(db, session_id, body, who)
    await choice.settle(db, sess)
    return _read(sess, "owner" if sess.owner_id == who.profile_id else None)


@router.delete("/{session_id}", status_code=204)
async def delete_session(session_id: str, db: DbSession, who: CurrentUser) -> Response:
    """Soft delete: the session disappears for members; its records stay for the audit trail."""
    await service.delete_session(db, session_id, who)
    return Response(status_code=204)


@router.post("/{session_id}/members", response_model=MemberRead)
async def join_session(session_id: str, db: DbSession, who: CurrentUser, response: Response,
                       body: MemberJoin | None = None) -> MemberRead:
    """Join (idempotent: 200 if already a member): a `public` session, a `members` session you are
    invited to by name or with an invite token, a `private` session with an invite token
    (`{"inviteToken": ...}`). A refused token is 403 naming why: `invite_invalid`, `invite_revoked`,
    `invite_expired`, `invite_used_up`, `invite_not_for_you`, `removed_from_session`; a private
    session without one is 403 `invite_required`."""
    member, created = await invites.join(db, session_id, who, body.invite_token if body else None)
    response.status_code = 201 if created else 200
    return MemberRead.model_validate(member)


@router.get("/{session_id}/members", response_model=Page[MemberRead])
async def list_members(session_id: str, db: DbSession, who: CurrentUser, paging: Paging
                       ) -> Page[MemberRead]:
    sess, _ = await service.load_visible(db, session_id, who)
    members = await repo.list_members(db, sess.id)
    answered = await repo.answered_profiles(db, sess.id, sess.current_approach_id)
    pos = paging.keyset(datetime, str)
    if pos:
        members = [m for m in members if (m.joined_at, m.profile_id) > (pos[0], pos[1])]
    page = make_page(members[: paging.limit + 1], paging.limit, lambda m: (m.joined_at, m.profile_id))
    items = []
    for m in page.items:
        r = MemberRead.model_validate(m)
        r.answered = m.profile_id in answered
        items.append(r)
    return Page[MemberRead](items=items, next_cursor=page.next_cursor)


@router.delete("/{session_id}/members/me", status_code=204)
async def leave_session(session_id: str, db: DbSession, who: CurrentUser) -> Response:
    """Leave the session (idempotent: 204 again once gone). My vote in an open choice and my answers
    are withdrawn; my task is freed. The owner cannot leave (409): delete the session instead."""
    await departures.leave(db, session_id, who)
    return Response(status_code=204)


@router.delete("/{session_id}/members/{profile_id}", status_code=204)
async def remove_member(session_id: str, profile_id: str, db: DbSession, who: CurrentUser) -> Response:
    """The owner or an admin removes a member (404 if not a member, 409 for the owner); their
    invite is revoked, so an invite-only session does not take them back."""
    await departures.remove(db, session_id, profile_id, who)
    return Response(status_code=204)


@router.post("/{session_id}/invites", status_code=201, response_model=InviteRead)
async def create_invite(session_id: str, body: InviteCreate, db: DbSession, who: CurrentUser) -> InviteRead:
    """The owner (or an admin) invites: by name (`profileId`), with a link token, or both; optionally
    expiring (`expiresAt`) and limited (`maxUses`). The response carries the token, shown only this once.
    No Idempotency-Key here: replaying would mean storing the token in clear."""
    inv, token = await invites.create(db, session_id, body, who)
    return invites.to_read(inv, token)


@router.get("/{session_id}/invites", response_model=Page[InviteRead])
async def list_invites(session_id: str, db: DbSession, who: CurrentUser, paging: Paging) -> Page[InviteRead]:
    """The session's invites, newest first, with their status and uses (never their tokens); owner
    or admin."""
    sess, _ = await service.load_visible(db, session_id, who)
    service.require_owner(sess, who)
    pos = paging.keyset(datetime, uuid.UUID)
    rows = await repo.list_invites(db, sess.id, paging.limit, (pos[0], pos[1]) if pos else None)
    page = make_page(rows, paging.limit, lambda i: (i.created_at, i.id))
    return Page[InviteRead](items=[invites.to_read(i) for i in page.items], next_cursor=page.next_cursor)


@router.delete("/{session_id}/invites/{invite_id}", status_code=204)
async def revoke_invite(session_id: str, invite_id: str, db: DbSession, who: CurrentUser) -> Response:
    """Revoke an invite (owner or admin; 204 again when already revoked): its token stops working and
    a profile it names no longer sees the session. Members who joined with it stay."""
    await invites.revoke(db, session_id, invite_id, who)
    return Response(status_code=204)
