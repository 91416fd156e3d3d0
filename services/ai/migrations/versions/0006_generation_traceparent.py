"""generations.traceparent: the trace context of the consumer that queued the job, continued by the worker

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('generations', sa.Column('traceparent', sa.String(length=64), nullable=True), schema='ai')


def downgrade() -> None:
    op.drop_column('generations', 'traceparent', schema='ai')
