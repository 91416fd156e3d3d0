"""Idempotency-Key through the shared implementation: one table of claimed keys and stored
responses (posts no longer carry their key)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'idempotency_keys',
        sa.Column('profile_id', sa.String(length=64), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('path', sa.String(length=500), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status_code', sa.SmallInteger(), nullable=True),
        sa.Column('response', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('profile_id', 'key', name=op.f('pk_idempotency_keys')),
        schema='tasks',
    )
    # Keys of earlier posts are not carried over: a retry of those (within a day) posts again.
    op.drop_index('uq_posts_idempotency', table_name='posts', schema='tasks',
                  postgresql_where='idempotency_key IS NOT NULL')
    op.drop_column('posts', 'idempotency_key', schema='tasks')


def downgrade() -> None:
    op.add_column('posts', sa.Column('idempotency_key', sa.String(length=200), nullable=True), schema='tasks')
    op.create_index('uq_posts_idempotency', 'posts', ['profile_id', 'idempotency_key'], unique=True,
                    schema='tasks', postgresql_where='idempotency_key IS NOT NULL')
    op.drop_table('idempotency_keys', schema='tasks')
