"""generations.heartbeat_at: renewed by the worker running the job, so a job whose process died is
retried after a short lease instead of a long one

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('generations', sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
                  schema='ai')


def downgrade() -> None:
    op.drop_column('generations', 'heartbeat_at', schema='ai')
