"""session members: a projection of the session service's membership events (who may rate)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'session_members',
        sa.Column('session_id', sa.String(length=64), nullable=False),
        sa.Column('profile_id', sa.String(length=64), nullable=False),
        sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('session_id', 'profile_id', name=op.f('pk_session_members')),
        schema='ai',
    )


def downgrade() -> None:
    op.drop_table('session_members', schema='ai')
