"""sessions.idea_count: the idea limit is checked (and the phase too) by one row update, not by
scanning the session's ideas on every post

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 14:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('sessions', sa.Column('idea_count', sa.Integer(), server_default='0', nullable=False),
                  schema='session')
    # Every idea ever posted counts, deleted or hidden ones too (as the limit always has).
    op.execute('UPDATE session.sessions s SET idea_count = '
               '(SELECT count(*) FROM session.ideas i WHERE i.session_id = s.id)')


def downgrade() -> None:
    op.drop_column('sessions', 'idea_count', schema='session')
