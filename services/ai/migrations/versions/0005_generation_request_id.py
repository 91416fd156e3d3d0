"""generations.request_id: the request that queued the job, so the worker's logs and events carry it

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('generations', sa.Column('request_id', sa.String(length=64), nullable=True), schema='ai')


def downgrade() -> None:
    op.drop_column('generations', 'request_id', schema='ai')
