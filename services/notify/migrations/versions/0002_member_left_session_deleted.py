"""member names and departures, deleted sessions and their flow in the membership projection;
pending reminders per session

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:00:00.000000
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
    op.add_column('session_members', sa.Column('name', sa.String(length=200), server_default='', nullable=False), schema='notify')
    op.add_column('session_members', sa.Column('left_at', sa.DateTime(timezone=True), nullable=True), schema='notify')
    op.add_column('sessions', sa.Column('phase_flow', postgresql.JSONB(astext_type=sa.Text()), nullable=True), schema='notify')
    op.add_column('sessions', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True), schema='notify')
    op.create_index('ix_reminders_session_pending', 'reminders', ['session_id'], unique=False, schema='notify', postgresql_where=sa.text('fired_at IS NULL AND cancelled_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_reminders_session_pending', table_name='reminders', schema='notify', postgresql_where=sa.text('fired_at IS NULL AND cancelled_at IS NULL'))
    op.drop_column('sessions', 'deleted_at', schema='notify')
    op.drop_column('sessions', 'phase_flow', schema='notify')
    op.drop_column('session_members', 'left_at', schema='notify')
    op.drop_column('session_members', 'name', schema='notify')
