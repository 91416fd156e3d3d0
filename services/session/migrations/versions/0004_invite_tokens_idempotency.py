"""invite tokens (hashed, expiring, limited, revocable), removals, Idempotency-Key responses

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Invites get their own id: one profile may hold several (a named invite and links).
    op.add_column('invites', sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'),
                                       nullable=False), schema='session')
    op.alter_column('invites', 'id', server_default=None, schema='session')
    op.drop_constraint('pk_invites', 'invites', type_='primary', schema='session')
    op.create_primary_key('pk_invites', 'invites', ['id'], schema='session')
    op.alter_column('invites', 'profile_id', existing_type=sa.String(length=64), nullable=True,
                    schema='session')
    op.add_column('invites', sa.Column('token_hash', sa.String(length=64), nullable=True), schema='session')
    op.add_column('invites', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
                  schema='session')
    op.add_column('invites', sa.Column('max_uses', sa.Integer(), nullable=True), schema='session')
    op.add_column('invites', sa.Column('uses', sa.Integer(), server_default='0', nullable=False),
                  schema='session')
    op.add_column('invites', sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
                  schema='session')
    op.create_unique_constraint(op.f('uq_invites_token_hash'), 'invites', ['token_hash'], schema='session')
    op.create_index('ix_invites_session', 'invites', ['session_id', 'created_at', 'id'], schema='session')
    op.create_index('ix_invites_profile', 'invites', ['session_id', 'profile_id'], schema='session')
    op.create_table(
        'removals',
        sa.Column('session_id', sa.Uuid(), nullable=False),
        sa.Column('profile_id', sa.String(length=64), nullable=False),
        sa.Column('removed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['session.sessions.id'],
                                name=op.f('fk_removals_session_id_sessions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('session_id', 'profile_id', name=op.f('pk_removals')),
        schema='session',
    )
    op.create_table(
        'idempotency_keys',
        sa.Column('profile_id', sa.String(length=64), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('path', sa.String(length=500), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status_code', sa.SmallInteger(), nullable=True),
        sa.Column('response', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('profile_id', 'key', name=op.f('pk_idempotency_keys')),
        schema='session',
    )


def downgrade() -> None:
    op.drop_table('idempotency_keys', schema='session')
    op.drop_table('removals', schema='session')
    op.drop_index('ix_invites_profile', table_name='invites', schema='session')
    op.drop_index('ix_invites_session', table_name='invites', schema='session')
    op.drop_constraint(op.f('uq_invites_token_hash'), 'invites', type_='unique', schema='session')
    # The old shape holds one live named invite per profile: links and revoked invites go.
    op.execute("DELETE FROM session.invites WHERE profile_id IS NULL OR revoked_at IS NOT NULL")
    op.execute("DELETE FROM session.invites a USING session.invites b WHERE a.session_id = b.session_id "
               "AND a.profile_id = b.profile_id AND a.created_at < b.created_at")
    op.execute("DELETE FROM session.invites a USING session.invites b WHERE a.session_id = b.session_id "
               "AND a.profile_id = b.profile_id AND a.created_at = b.created_at AND a.id < b.id")
    for column in ('revoked_at', 'uses', 'max_uses', 'expires_at', 'token_hash'):
        op.drop_column('invites', column, schema='session')
    op.alter_column('invites', 'profile_id', existing_type=sa.String(length=64), nullable=False,
                    schema='session')
    op.drop_constraint('pk_invites', 'invites', type_='primary', schema='session')
    op.create_primary_key('pk_invites', 'invites', ['session_id', 'profile_id'], schema='session')
    op.drop_column('invites', 'id', schema='session')
