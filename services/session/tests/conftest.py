from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from rally_shared.testing import migrate_service, running_app


@pytest.fixture(scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    migrate_service(Path(__file__).resolve().parents[1])
    from session_service.main import app

    async with running_app(app) as c:
        yield c
