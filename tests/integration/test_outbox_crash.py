"""A crash between the DB commit and the relay loses no event and duplicates none."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats


async def _count_phase_changes(nats_url: str, session_id: str, action: Any, settle: float = 2.0) -> list[dict]:
    nc = await nats.connect(nats_url)
    seen: list[dict] = []

    async def on_msg(msg: Any) -> None:
        ev = json.loads(msg.data)
        if ev["data"].get("sessionId") == session_id:
            seen.append(ev)

    await nc.subscribe("rally.session.phase_changed", cb=on_msg)
    await nc.flush()
    await asyncio.get_running_loop().run_in_executor(None, action)
    await asyncio.sleep(settle)
    await nc.drain()
    return seen


def test_phase_changed_survives_a_kill_between_commit_and_relay(stack, api):
    owner, _ = api.token("ann")
    sid = api.call("POST", "/v1/sessions", owner, json={"topic": "Crash test", "visibility": "public"})["id"]

    # 1. Restart the session service with its relay off, as if it died right after committing.
    stack.kill_service("session")
    stack.start_service("session", {"RALLY_OUTBOX_RELAY_ENABLED": "false"})

    def move() -> None:
        api.call("POST", f"/v1/sessions/{sid}/phase", owner, json={"to": "approaches"})

    seen = asyncio.run(_count_phase_changes(stack.nats_url, sid, move, settle=1.5))
    assert seen == [], "the relay was off: nothing may be published yet"

    # 2. SIGKILL, then a normal restart: the outbox relays the committed event exactly once.
    def crash_and_restart() -> None:
        stack.kill_service("session")
        stack.start_service("session")

    seen = asyncio.run(_count_phase_changes(stack.nats_url, sid, crash_and_restart, settle=3.0))
    assert [(e["data"]["from"], e["data"]["to"]) for e in seen] == [("ideation", "approaches")]

    # 3. Another restart publishes nothing again.
    seen_again = asyncio.run(_count_phase_changes(stack.nats_url, sid, crash_and_restart, settle=2.0))
    assert seen_again == []
    assert api.call("GET", f"/v1/sessions/{sid}", owner)["phase"] == "approaches"

