import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from rally_shared.testing import migrate_service, running_app

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tasks_helpers

# Media of this run goes to a temporary directory (read when the app's settings are first built).
os.environ.setdefault("RALLY_DATA_DIR", tempfile.mkdtemp(prefix="rally-tasks-test-"))


@pytest.fixture(scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    migrate_service(Path(__file__).resolve().parents[1])
    from tasks_service.main import app

    async with running_app(app) as c:
        yield c
