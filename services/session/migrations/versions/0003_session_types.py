"""session types: the local copy of the admin's session types (defaults for new sessions)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00
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
    # The built-ins are seeded at start-up from the shared contract, not here.
    op.create_table(
        'session_types',
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('phase_flow', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('phase_durations', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('approach_choice', sa.String(length=10), nullable=False),
        sa.Column('visibility', sa.String(length=10), nullable=False),
        sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_session_types')),
        schema='session',
    )


def downgrade() -> None:
    op.drop_table('session_types', schema='session')
