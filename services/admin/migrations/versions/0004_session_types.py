"""session types: the defaults a new session takes (flow, phase durations, approachChoice, visibility)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The built-in types are seeded at start-up (and published), not here: an event must follow.
    op.create_table(
        'session_types',
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('phase_flow', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('phase_durations', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('approach_choice', sa.String(length=10), nullable=False),
        sa.Column('visibility', sa.String(length=10), nullable=False),
        sa.Column('builtin', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_session_types')),
        schema='admin',
    )


def downgrade() -> None:
    op.drop_table('session_types', schema='admin')
