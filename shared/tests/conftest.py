"""Fixtures the shared library's tests have in common."""

import uuid

import pytest
from rally_shared.db import make_engine, make_sessionmaker, schema_metadata
from rally_shared.messaging.tables import define_messaging_tables
from rally_shared.settings import SharedSettings
from sqlalchemy import text


@pytest.fixture
async def db():
    """Outbox and inbox tables in a schema of their own on the test Postgres, and a session maker."""
    metadata = schema_metadata(f"messaging_{uuid.uuid4().hex[:8]}")
    tables = define_messaging_tables(metadata)
    engine = make_engine(SharedSettings().async_database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{metadata.schema}"'))
        await conn.run_sync(metadata.create_all)
    yield make_sessionmaker(engine), tables
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{metadata.schema}" CASCADE'))
    await engine.dispose()
