"""Moderation rules: anyone signed in may report; admins hide or restore content in bulk.

The admin service does not own ideas, comments or posts: it publishes
`rally.admin.content_moderated` per item and the owning service applies it.
"""

from __future__ import annotations

import uuid
from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.admin import ContentModerated
from rally_shared.db import utcnow
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.events import audit, emit
from admin_service.metrics import MODERATION_ACTIONS, REPORTS_FILED
from admin_service.models import Report
from admin_service.moderation import repository
from admin_service.moderation.schemas import ModerationRequest, ModerationResult, ReportCreate


def _report_snapshot(r: Report) -> dict[str, Any]:
    return {"entity": r.entity, "entityId": r.entity_id, "sessionId": r.session_id,
            "reason": r.reason, "status": r.status}


async def report(s: AsyncSession, actor: Principal, data: ReportCreate) -> Report:
    r = Report(id=uuid.uuid4(), entity=data.entity, entity_id=data.entity_id,
               session_id=data.session_id, reason=data.reason, reporter_id=actor.profile_id,
               status="open", created_at=utcnow())
    s.add(r)
    await s.flush()
    await audit(s, actor.profile_id, "reported", "report", r.id, None, _report_snapshot(r))
    REPORTS_FILED.labels(data.entity).inc()
    return r


async def moderate(s: AsyncSession, actor: Principal, req: ModerationRequest) -> list[ModerationResult]:
    now = utcnow()
    state = "hidden" if req.action == "hide" else "visible"
    report_status = "hidden" if req.action == "hide" else "restored"
    results: list[ModerationResult] = []
    seen: set[tuple[str, str]] = set()
    for item in req.items:
        key = (item.entity, item.entity_id)
        if key in seen:  # the same item twice in one request is one action
            continue
        seen.add(key)
        prev = await repository.state_of(s, item.entity, item.entity_id)
        before = {"state": prev.state if prev else "visible"}
        await repository.set_state(s, item.entity, item.entity_id, state, req.reason,
                                   actor.profile_id, now)
        resolved = await repository.resolve_reports(s, item.entity, item.entity_id, report_status,
                                                    actor.profile_id, req.reason, now)
        await emit(s, ContentModerated(entity=item.entity, entity_id=item.entity_id,
                                       action=req.action, actor_id=actor.profile_id,
                                       reason=req.reason))
        await audit(s, actor.profile_id, "hidden" if req.action == "hide" else "restored",
                    item.entity, item.entity_id, before,
                    {"state": state, "reason": req.reason, "reportsResolved": resolved})
        MODERATION_ACTIONS.labels(item.entity, req.action).inc()
        results.append(ModerationResult(entity=item.entity, entity_id=item.entity_id,
                                        action=req.action, state=state, reports_resolved=resolved))
    return results
