import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from rally_shared.testing import make_token, migrate_service, running_app

# Fast deadline checks in tests; read when the service's settings are first built.
os.environ.setdefault("RALLY_DEADLINE_CHECK_SECONDS", "0.2")


@pytest.fixture(scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    migrate_service(Path(__file__).resolve().parents[1])
    from session_service.main import app

    async with running_app(app) as c:
        yield c


class Person:
    def __init__(self, name: str, admin: bool = False) -> None:
        import uuid

        self.name = f"{name}-{uuid.uuid4().hex[:6]}"
        self.token, self.id = make_token(self.name, admin=admin)
        self.h = {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def people() -> dict[str, Person]:
    return {n: Person(n) for n in ("ann", "ben", "cat", "dan")} | {"admin": Person("root", admin=True)}


@pytest.fixture
async def session_id(client: httpx.AsyncClient, people: dict[str, Person]) -> str:
    r = await client.post("/v1/sessions", headers=people["ann"].h,
                          json={"topic": "What should we do this weekend?", "visibility": "public"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    for n in ("ben", "cat", "dan"):
        assert (await client.post(f"/v1/sessions/{sid}/members", headers=people[n].h)).status_code == 201
    return str(sid)
