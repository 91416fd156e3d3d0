"""task lifecycle: the plan's roles and answers per generation, requirements per task, open tasks
(no assignee), departures kept as member tombstones, deleted sessions

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('generations', sa.Column('roles', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False), schema='tasks')
    op.add_column('generations', sa.Column('member_answers', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False), schema='tasks')
    op.add_column('tasks', sa.Column('requires', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False), schema='tasks')
    op.alter_column('tasks', 'profile_id', existing_type=sa.String(length=64), nullable=True, schema='tasks')
    op.add_column('members', sa.Column('left_at', sa.DateTime(timezone=True), nullable=True), schema='tasks')
    op.alter_column('members', 'joined_at', existing_type=sa.DateTime(timezone=True), nullable=True,
                    server_default=None, schema='tasks')
    # The old values are processing times, not join times: unknown is the honest value.
    op.execute("UPDATE tasks.members SET joined_at = NULL")
    op.add_column('sessions', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True), schema='tasks')


def downgrade() -> None:
    op.drop_column('sessions', 'deleted_at', schema='tasks')
    op.execute("UPDATE tasks.members SET joined_at = now() WHERE joined_at IS NULL")
    op.alter_column('members', 'joined_at', existing_type=sa.DateTime(timezone=True), nullable=False,
                    server_default=sa.text('now()'), schema='tasks')
    op.drop_column('members', 'left_at', schema='tasks')
    op.execute("DELETE FROM tasks.tasks WHERE profile_id IS NULL")
    op.alter_column('tasks', 'profile_id', existing_type=sa.String(length=64), nullable=False, schema='tasks')
    op.drop_column('tasks', 'requires', schema='tasks')
    op.drop_column('generations', 'member_answers', schema='tasks')
    op.drop_column('generations', 'roles', schema='tasks')
