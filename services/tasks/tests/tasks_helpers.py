"""Test helpers: publish real events on NATS and set up a session with generated tasks."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rally_shared.contracts.ai import ContentGuidance, GeneratedTask, TasksGenerated
from rally_shared.contracts.envelope import Event, EventData
from rally_shared.contracts.session import MemberJoined, SessionCreated
from rally_shared.testing import auth, make_token, publish_event

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0" + bytes(64)


async def publish(data: EventData | Event, *, dedup: bool = True) -> Event:
    """Publish an event on the `rally` stream; dedup=False lets the same event through again."""
    return await publish_event(data, msg_id=None if dedup else str(uuid.uuid4()))


async def eventually(check: Any, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


@dataclass
class Person:
    name: str
    token: str
    id: str

    @property
    def h(self) -> dict[str, str]:
        return auth(self.token)


def person(prefix: str, *, admin: bool = False) -> Person:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    token, pid = make_token(name, admin=admin)
    return Person(name, token, pid)


@dataclass
class Group:
    session_id: str
    owner: Person
    members: list[Person]
    generation_id: str = ""
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # profile id -> task JSON

    def task_of(self, p: Person) -> dict[str, Any]:
        return self.tasks[p.id]


def tasks_generated(g: Group, proof_types: list[list[str]], *, generation_id: str | None = None,
                    occurred_at: datetime | None = None) -> Event:
    everyone = [g.owner, *g.members]
    data = TasksGenerated(
        session_id=g.session_id, generation_id=generation_id or uuid.uuid4().hex,
        approach_id=uuid.uuid4().hex, owner_id=g.owner.id, member_ids=[p.id for p in everyone],
        tasks=[GeneratedTask(
            profile_id=p.id, role_key=f"role{i}", title=f"Task {i}", description="d",
            instructions=f"Do thing {i}",
            content_guidance=ContentGuidance(text=f"Post {'/'.join(pt)}", proof_types=pt),
            due_at=datetime(2030, 1, 1, tzinfo=UTC))
            for i, (p, pt) in enumerate(zip(everyone, proof_types, strict=True))],
        ai_prompt="PROMPT", ai_response="RESPONSE")
    ev = data.to_event()
    if occurred_at:
        ev.occurred_at = occurred_at
    return ev


async def make_group(client: httpx.AsyncClient, proof_types: list[list[str]],
                     owner: Person | None = None) -> Group:
    """A session (owner + len(proof_types)-1 members) whose tasks are stored."""
    owner = owner or person("owner")
    g = Group(str(uuid.uuid4()), owner, [person("member") for _ in proof_types[1:]])
    await publish(SessionCreated(session_id=g.session_id, topic="t", owner_id=owner.id,
                                 visibility="members", phase="tasks",
                                 phase_flow=["ideation", "approaches", "tasks", "submission",
                                             "completed"]))
    for m in g.members:
        await publish(MemberJoined(session_id=g.session_id, profile_id=m.id, name=m.name))
    ev = tasks_generated(g, proof_types, occurred_at=datetime.now(UTC) - timedelta(minutes=5))
    g.generation_id = ev.data["generationId"]
    await publish(ev)

    async def stored() -> None:
        r = await client.get(f"/v1/sessions/{g.session_id}/tasks", headers=owner.h)
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) == len(proof_types)
        g.tasks = {t["profileId"]: t for t in r.json()["items"]}

    await eventually(stored)
    return g
