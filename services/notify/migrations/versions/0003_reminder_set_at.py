"""reminders: when the fact that last set a task's reminder happened (a later fact wins), and the
latest assignment (a completion holds until a later one)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('reminders', sa.Column('set_at', sa.DateTime(timezone=True), nullable=True), schema='notify')
    op.add_column('reminders', sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
                  schema='notify')


def downgrade() -> None:
    op.drop_column('reminders', 'assigned_at', schema='notify')
    op.drop_column('reminders', 'set_at', schema='notify')
