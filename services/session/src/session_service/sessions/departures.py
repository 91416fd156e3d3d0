"""Members leaving a session, or removed by its owner or an admin. Flushes, never commits.

The member row is deleted (the audit record keeps who left, when and why), so every membership
check refuses the former member from then on. Rejoining is a fresh join: a public session takes
anyone; an invite-only session takes back a member who left (the invite stays) but not one who was
removed (the invites naming them are revoked, and links naming nobody refuse them)."""

from __future__ import annotations

from typing import Literal

from rally_shared.auth import Principal
from rally_shared.contracts.session import MemberLeft
from rally_shared.errors import Conflict, NotFound
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.approach import choice
from session_service.events import audit, emit
from session_service.metrics import MEMBERS_LEFT
from session_service.models import Answer, ApproachVote, Member, Session
from session_service.sessions import repository as repo
from session_service.sessions.service import load_visible, require_owner


async def leave(s: AsyncSession, raw_id: str, who: Principal) -> None:
    """Leave the session; leaving when no longer a member does nothing (idempotent)."""
    sess, member = await load_visible(s, raw_id, who, for_update=True)
    if member is None:
        return
    if sess.owner_id == who.profile_id:
        raise Conflict("The owner cannot leave the session; delete it instead "
                       "(transferring ownership is not supported).")
    await _drop(s, sess, member, reason="left", actor_id=who.profile_id)


async def remove(s: AsyncSession, raw_id: str, profile_id: str, who: Principal) -> None:
    """The owner or an admin removes a member (naming oneself is leaving)."""
    if profile_id == who.profile_id:
        await leave(s, raw_id, who)
        return
    sess, _ = await load_visible(s, raw_id, who, for_update=True)
    require_owner(sess, who)
    if profile_id == sess.owner_id:
        raise Conflict("The owner cannot be removed from the session; delete the session instead.")
    member = await repo.get_member(s, sess.id, profile_id)
    if member is None:
        raise NotFound(f"No member '{profile_id}' in this session.")
    await _drop(s, sess, member, reason="removed", actor_id=who.profile_id)
    # A removed member must not walk back in through the invite that let them in, nor through a
    # link that names nobody (see invites.py); an invite naming them again lifts this.
    await repo.revoke_named(s, sess.id, profile_id)
    await repo.mark_removed(s, sess.id, profile_id)


async def _drop(s: AsyncSession, sess: Session, member: Member, *, reason: Literal["left", "removed"],
                actor_id: str) -> None:
    """Delete the membership with what it still weighs on the plan being made: the vote in an open
    choice and the answers (a rejoin starts fresh). Ideas and comments stay in the discussion."""
    pid = member.profile_id
    before = {"sessionId": str(sess.id), "profileId": pid, "name": member.name, "role": member.role,
              "joinedAt": member.joined_at.isoformat()}
    withdrawn = None
    if choice.choice_open(sess):
        vote = await s.get(ApproachVote, (sess.id, sess.approach_generation_id, pid), with_for_update=True)
        if vote is not None:
            withdrawn = str(vote.approach_id)
            await s.delete(vote)
    await s.execute(delete(Answer).where(Answer.session_id == sess.id, Answer.profile_id == pid))
    await s.delete(member)
    await s.flush()
    await emit(s, MemberLeft(session_id=str(sess.id), profile_id=pid, reason=reason, actor_id=actor_id,
                             owner_id=sess.owner_id))
    await audit(s, actor_id, "member.leave" if reason == "left" else "member.remove", "member",
                f"{sess.id}:{pid}", before=before, after={"reason": reason, "voteWithdrawn": withdrawn})
    MEMBERS_LEFT.labels(reason).inc()
    # Fewer members to wait for: in `vote` mode the remaining members may all have voted now.
    await choice.settle(s, sess)
