"""Joining a session, and the owner's invites that let people in. Flushes, never commits.

Who may join: anyone signed in joins a `public` session. A `members` session takes a profile with
a live invite naming it, or anyone holding a live invite token. A `private` session takes only a
live invite token (a named invite makes the session visible to that profile, not joinable): the
owner hands the token out and can revoke it. A token may name a profile (then only that profile may
use it), expire, and admit a limited number of joins. A member the owner removed is not taken back
by a token that names nobody; an invite naming them lifts that.

Tokens are random (256 bits) and stored as their SHA-256 only, so the token is shown once, at
creation; a refused token says why (`invite_invalid`, `invite_revoked`, `invite_expired`,
`invite_used_up`, `invite_not_for_you`, `removed_from_session`), all 403.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from rally_shared.auth import Principal
from rally_shared.contracts.session import MemberJoined
from rally_shared.db import utcnow
from rally_shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.config import get_settings
from session_service.events import audit, emit
from session_service.metrics import MEMBERS_JOINED
from session_service.models import Invite, Member, Session
from session_service.sessions import repository as repo
from session_service.sessions.schemas import InviteCreate, InviteRead, InviteStatus
from session_service.sessions.service import load_visible, parse_id, require_owner

TOKEN_PREFIX = "rinv_"


def hash_token(token: str) -> str:
    # A fast hash is enough: the token is 256 random bits, not a password to guess.
    return hashlib.sha256(token.encode()).hexdigest()


def status_of(inv: Invite, now: datetime | None = None) -> InviteStatus:
    now = now or utcnow()
    if inv.revoked_at is not None:
        return "revoked"
    if inv.expires_at is not None and inv.expires_at <= now:
        return "expired"
    if inv.max_uses is not None and inv.uses >= inv.max_uses:
        return "used_up"
    return "active"


def to_read(inv: Invite, token: str | None = None) -> InviteRead:
    out = InviteRead.model_validate(inv)
    out.status, out.token = status_of(inv), token
    return out


async def create(s: AsyncSession, raw_id: str, data: InviteCreate, who: Principal) -> tuple[Invite, str]:
    """The owner (or an admin) makes an invite; returns it with its token (shown only now)."""
    sess, _ = await load_visible(s, raw_id, who)
    require_owner(sess, who)
    if sess.phase == "completed":
        raise Conflict("The session is completed; it takes no new members.")
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise Unprocessable("expiresAt: must be in the future.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    inv = Invite(id=uuid.uuid4(), session_id=sess.id, profile_id=data.profile_id,
                 token_hash=hash_token(token), invited_by=who.profile_id, expires_at=data.expires_at,
                 max_uses=data.max_uses, uses=0, created_at=utcnow())
    s.add(inv)
    if data.profile_id is not None:
        await repo.forget_removal(s, sess.id, data.profile_id)  # inviting by name takes them back
    await s.flush()
    await audit(s, who.profile_id, "invite.create", "invite", inv.id, after=_snapshot(inv))
    return inv, token


async def revoke(s: AsyncSession, raw_id: str, raw_invite: str, who: Principal) -> None:
    """The owner (or an admin) revokes an invite; revoking twice is a no-op. Members who joined
    with it stay (remove them to take them out)."""
    sess, _ = await load_visible(s, raw_id, who)
    require_owner(sess, who)
    inv = await repo.get_invite(s, sess.id, parse_id(raw_invite, "invite"))
    if inv is None:
        raise NotFound(f"No invite with id '{raw_invite}' in this session.")
    if inv.revoked_at is not None:
        return
    before = _snapshot(inv)
    inv.revoked_at = utcnow()
    await s.flush()
    await audit(s, who.profile_id, "invite.revoke", "invite", inv.id, before, _snapshot(inv))


async def join(s: AsyncSession, raw_id: str, who: Principal, invite_token: str | None = None
               ) -> tuple[Member, bool]:
    """Join a session (see the module's rules); joining twice is a no-op."""
    found = await repo.get_session_and_member(s, parse_id(raw_id), who.profile_id, for_update=True)
    if found is None:
        raise NotFound(f"No session with id '{raw_id}'.")
    sess, member = found
    if member is not None:
        return member, False
    used = None if sess.visibility == "public" else await _admission(s, sess, who, invite_token)
    if sess.phase == "completed":
        raise Conflict("The session is completed; it takes no new members.")
    if await repo.count_members(s, sess.id) >= get_settings().max_members:
        raise Conflict("The session is full.")
    if used is not None and used.token_hash is not None and invite_token is not None:
        used.uses += 1
    member = Member(session_id=sess.id, profile_id=who.profile_id, name=who.name, role="member",
                    joined_at=utcnow())
    s.add(member)
    await s.flush()
    await emit(s, MemberJoined(session_id=str(sess.id), profile_id=who.profile_id, name=who.name))
    await audit(s, who.profile_id, "member.join", "member", f"{sess.id}:{who.profile_id}",
                after={"sessionId": str(sess.id), "profileId": who.profile_id,
                       "inviteId": str(used.id) if used is not None else None})
    MEMBERS_JOINED.inc()
    return member, True


async def _admission(s: AsyncSession, sess: Session, who: Principal, token: str | None) -> Invite | None:
    """The invite that lets `who` into a `members` or `private` session; raises why not."""
    if token is not None:
        inv = await repo.invite_by_token(s, hash_token(token))
        if inv is None or inv.session_id != sess.id:
            raise Forbidden("This invite token is not valid for this session.", code="invite_invalid")
        refusal = {"revoked": ("The owner revoked this invite.", "invite_revoked"),
                   "expired": ("This invite has expired; ask the owner for a new one.", "invite_expired"),
                   "used_up": ("This invite has been used as often as it allows.", "invite_used_up"),
                   }.get(status_of(inv))
        if refusal is not None:
            raise Forbidden(refusal[0], code=refusal[1])
        if inv.profile_id is not None and inv.profile_id != who.profile_id:
            raise Forbidden("This invite is for someone else.", code="invite_not_for_you")
        if inv.profile_id is None and await repo.was_removed(s, sess.id, who.profile_id):
            raise Forbidden("You were removed from this session; only an invite naming you brings you back.",
                            code="removed_from_session")
        return inv
    named = await repo.named_invite(s, sess.id, who.profile_id)
    if named is None and not who.is_admin:
        raise NotFound(f"No session with id '{sess.id}'.")  # others must not learn it exists
    if sess.visibility == "private":
        raise Forbidden("This session is private: joining needs an invite token from its owner.",
                        code="invite_required")
    if named is None:
        raise Forbidden("This session is invite-only.", code="invite_required")
    return named


def _snapshot(inv: Invite) -> dict[str, object]:
    return {"sessionId": str(inv.session_id), "inviteId": str(inv.id), "profileId": inv.profile_id,
            "token": inv.token_hash is not None,
            "expiresAt": inv.expires_at.isoformat() if inv.expires_at else None, "maxUses": inv.max_uses,
            "uses": inv.uses, "revokedAt": inv.revoked_at.isoformat() if inv.revoked_at else None}
