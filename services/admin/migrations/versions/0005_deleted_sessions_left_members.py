"""analytics: a soft-deleted session and a member who left are marked, not dropped

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('a_sessions', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
                  schema='admin')
    op.add_column('a_members', sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
                  schema='admin')
    op.add_column('a_members', sa.Column('last_joined_at', sa.DateTime(timezone=True), nullable=True),
                  schema='admin')


def downgrade() -> None:
    op.drop_column('a_members', 'last_joined_at', schema='admin')
    op.drop_column('a_members', 'left_at', schema='admin')
    op.drop_column('a_sessions', 'deleted_at', schema='admin')
