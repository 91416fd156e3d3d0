"""Alembic helpers: each service has its own chain, its own schema and its own version table."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Connection


def sync_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def run_env(metadata: MetaData, schema: str, extensions: tuple[str, ...] = ()) -> None:
    """Body of a service's migrations/env.py (online mode only: we always have a database)."""
    from alembic import context

    from rally_shared.settings import SharedSettings

    config = context.config
    url = config.get_main_option("sqlalchemy.url") or SharedSettings().database_url
    if not url:
        raise RuntimeError("no database URL: set RALLY_DATABASE_URL or DATABASE_URL")
    engine = create_engine(sync_url(url))

    def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                       compare_to: object) -> bool:
        if type_ == "table":
            return getattr(obj, "schema", None) == schema
        return True

    with engine.connect() as conn:
        _prepare(conn, schema, extensions)
        context.configure(
            connection=conn, target_metadata=metadata, version_table_schema=schema,
            include_schemas=True, include_object=include_object, compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def _prepare(conn: Connection, schema: str, extensions: tuple[str, ...]) -> None:
    # Several services may migrate at once on first start: serialise them on one advisory lock.
    conn.execute(text("SELECT pg_advisory_lock(7243001)"))
    try:
        for ext in extensions:
            conn.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{ext}"'))
        # Only when missing: CREATE SCHEMA checks the right to create schemas even with IF NOT
        # EXISTS, and a production service role owns its schema (made at bootstrap) without it.
        if conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first() is None:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        conn.commit()
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(7243001)"))
        conn.commit()


def upgrade(service_dir: Path, database_url: str) -> None:
    """Run a service's migrations to head (used by the launcher and the test fixtures)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    cfg.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    command.upgrade(cfg, "head")
