"""use case playbooks: use_cases.roles (projection of the admin's playbooks)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00
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
    # Indexed use cases get an empty playbook until the admin service publishes them again.
    op.add_column('use_cases', sa.Column('roles', postgresql.JSONB(astext_type=sa.Text()),
                                         server_default=sa.text("'[]'::jsonb"), nullable=False),
                  schema='ai')


def downgrade() -> None:
    op.drop_column('use_cases', 'roles', schema='ai')
