from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from rally_shared.testing import auth, make_token, migrate_service, running_app

SERVICE_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    migrate_service(SERVICE_DIR)
    from admin_service.main import app

    async with running_app(app) as c:
        yield c


@pytest.fixture(scope="session")
def admin_headers() -> dict[str, str]:
    return auth(make_token("Ada Admin", admin=True)[0])


@pytest.fixture(scope="session")
def member() -> tuple[dict[str, str], str]:
    token, pid = make_token("Mel Member")
    return auth(token), pid


def reference_events(use_case_id: str, use_case_title: str, topic: str) -> list[object]:
    """The reference scenario as the other services would publish it (for admin-only tests)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from rally_shared.contracts import ai, notify, session, tasks

    sid = str(uuid.uuid4())
    people = {n: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{sid}:{n}")) for n in ("Ann", "Ben", "Cat", "Dan")}
    ann, ids = people["Ann"], list(people.values())
    t = datetime.now(UTC) - timedelta(minutes=30)
    out: list[object] = []

    def at(minutes: float, data: object) -> None:
        ev = data.to_event()  # type: ignore[attr-defined]
        ev.occurred_at = t + timedelta(minutes=minutes)
        out.append(ev)

    at(0, session.SessionCreated(session_id=sid, topic=topic, owner_id=ann, visibility="members",
                                 phase="ideation", phase_flow=list(session.PHASES)))
    for i, (name, pid) in enumerate(people.items()):
        at(0.1 + i / 10, session.MemberJoined(session_id=sid, profile_id=pid, name=name))
    for i, idea in enumerate(("cinema", "bowling", "picnic")):
        at(1 + i, session.IdeaPosted(session_id=sid, idea_id=str(uuid.uuid4()), profile_id=ids[i + 1],
                                     text=idea))
    at(5, session.PhaseChanged(session_id=sid, **{"from": "ideation", "to": "approaches"},
                               owner_id=ann, topic=topic, member_ids=ids))
    gen1 = str(uuid.uuid4())
    at(5.01, ai.GenerationStarted(session_id=sid, kind="approach", generation_id=gen1))
    at(5.05, ai.ApproachGenerated(session_id=sid, approach_id=str(uuid.uuid4()), generation_id=gen1,
                                  approach={"title": "Cinema night", "roles": [{"key": "helper", "name": "Helper"}]},
                                  use_case=ai.UseCaseMatch(id=use_case_id, title=use_case_title,
                                                           score=0.82, matched_by="similarity")))
    for i, pid in enumerate(ids):
        at(6 + i, session.AnswersSubmitted(session_id=sid, profile_id=pid, question_keys=["has_car"]))
    at(10, session.PhaseChanged(session_id=sid, **{"from": "approaches", "to": "tasks"},
                                owner_id=ann, topic=topic, member_ids=ids))
    gen2 = str(uuid.uuid4())
    at(10.01, ai.GenerationStarted(session_id=sid, kind="tasks", generation_id=gen2))
    at(10.1, ai.TasksGenerated(session_id=sid, generation_id=gen2, owner_id=ann, member_ids=ids, tasks=[]))
    task_ids = [str(uuid.uuid4()) for _ in ids]
    for tid, pid in zip(task_ids, ids, strict=True):
        at(10.2, tasks.TaskAssigned(task_id=tid, session_id=sid, profile_id=pid, role_key="driver",
                                    title="Drive"))
        at(10.3, notify.NotificationDelivered(notification_id=str(uuid.uuid4()), profile_id=pid,
                                              session_id=sid, kind="task_assigned", channel="in_app",
                                              title="Your task"))
    at(10.5, session.PhaseChanged(session_id=sid, **{"from": "tasks", "to": "submission"},
                                  owner_id=ann, topic=topic, member_ids=ids, reason="auto"))
    for i, (tid, pid) in enumerate(zip(task_ids, ids, strict=True)):
        at(12 + i, tasks.PostSubmitted(post_id=str(uuid.uuid4()), task_id=tid, session_id=sid,
                                       profile_id=pid))
        at(12.1 + i, tasks.TaskCompleted(task_id=tid, session_id=sid, profile_id=pid))
    at(16, tasks.AllTasksCompleted(session_id=sid, task_count=4, member_ids=ids))
    at(16.1, session.PhaseChanged(session_id=sid, **{"from": "submission", "to": "completed"},
                                  owner_id=ann, topic=topic, member_ids=ids, reason="auto"))
    return out
