"""The audit trail: consumed from every service, filterable, paged, append-only."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rally_shared.contracts.audit import AuditRecorded
from rally_shared.testing import eventually, publish_event
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError


def _record(actor: str, action: str, entity: str, entity_id: str, at: datetime) -> AuditRecorded:
    return AuditRecorded(service="session", actor_id=actor, action=action, entity=entity,
                         entity_id=entity_id, before=None, after={"topic": "Weekend"},
                         request_id="req-1", at=at)


async def test_consumes_filters_and_pages(client, admin_headers):
    actor, sid = f"ann-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    t0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    events = [_record(actor, "created", "session", sid, t0).to_event(),
              _record(actor, "phase_changed", "session", sid, t0 + timedelta(minutes=5)).to_event(),
              _record(actor, "posted", "idea", str(uuid.uuid4()), t0 + timedelta(minutes=9)).to_event()]
    for ev in events:
        await publish_event(ev)
    await publish_event(events[0])  # a redelivery under a new NATS message id stays one record
    await publish_event(events[0], msg_id=str(uuid.uuid4()))

    async def all_in():
        r = await client.get("/v1/admin/audit", params={"actor": actor}, headers=admin_headers)
        return r.json()["items"] if len(r.json()["items"]) >= 3 else None

    items = await eventually(all_in)
    assert [i["action"] for i in items] == ["posted", "phase_changed", "created"]
    assert items[2] | {"seq": 0} == {
        "seq": 0, "eventId": events[0].id, "service": "session", "actorId": actor,
        "action": "created", "entity": "session", "entityId": sid, "before": None,
        "after": {"topic": "Weekend"}, "requestId": "req-1", "at": "2026-01-10T12:00:00Z"}

    def get(**params):
        return client.get("/v1/admin/audit", params={"actor": actor, **params}, headers=admin_headers)

    assert [i["action"] for i in (await get(entity="session")).json()["items"]] == [
        "phase_changed", "created"]
    assert [i["action"] for i in (await get(action="posted")).json()["items"]] == ["posted"]
    r = await get(**{"from": "2026-01-10T12:01:00Z", "to": "2026-01-10T12:09:00Z"})
    assert [i["action"] for i in r.json()["items"]] == ["phase_changed"]
    assert (await get(**{"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"})).status_code == 400
    page = (await get(limit=2)).json()
    assert len(page["items"]) == 2 and page["nextCursor"]
    rest = (await get(limit=2, cursor=page["nextCursor"])).json()
    assert [i["action"] for i in rest["items"]] == ["created"] and rest["nextCursor"] is None


@pytest.mark.parametrize("sql", [
    "UPDATE admin.audit_log SET action = 'tampered'",
    "DELETE FROM admin.audit_log",
    "TRUNCATE admin.audit_log",
])
async def test_audit_log_is_append_only(client, admin_headers, sql):
    from admin_service.runtime import runtime

    await client.post("/v1/admin/use-cases", json={"title": "Keep me", "prompt": "p"},
                      headers=admin_headers)
    async with runtime.sm() as s:
        with pytest.raises(DBAPIError, match="append-only"):
            await s.execute(text(sql))
        await s.rollback()
        assert await s.scalar(text("SELECT count(*) FROM admin.audit_log WHERE action = 'tampered'")) == 0
    from admin_service.main import app

    paths = app.openapi()["paths"]
    assert set(paths["/v1/admin/audit"]) == {"get"}
