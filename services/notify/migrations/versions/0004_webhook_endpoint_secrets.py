"""webhook endpoints: their own signing secret (sealed), and the previous one during a rotation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 12:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Endpoints saved before this revision get no secret here (nobody could be shown it): their
    # deliveries fail until the member rotates, which makes one and shows it once.
    op.add_column('preferences', sa.Column('webhook_secret_sealed', sa.Text(), nullable=True), schema='notify')
    op.add_column('preferences', sa.Column('webhook_secret_created_at', sa.DateTime(timezone=True), nullable=True), schema='notify')
    op.add_column('preferences', sa.Column('webhook_previous_secret_sealed', sa.Text(), nullable=True), schema='notify')
    op.add_column('preferences', sa.Column('webhook_previous_until', sa.DateTime(timezone=True), nullable=True), schema='notify')


def downgrade() -> None:
    op.drop_column('preferences', 'webhook_previous_until', schema='notify')
    op.drop_column('preferences', 'webhook_previous_secret_sealed', schema='notify')
    op.drop_column('preferences', 'webhook_secret_created_at', schema='notify')
    op.drop_column('preferences', 'webhook_secret_sealed', schema='notify')
