"""web push: subscriptions per device, the dev-mode VAPID key pair, one delivery per device

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 06:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'push_subscriptions',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('profile_id', sa.String(length=64), nullable=False),
        sa.Column('endpoint', sa.String(length=2000), nullable=False),
        sa.Column('p256dh', sa.String(length=200), nullable=False),
        sa.Column('auth', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
        sa.UniqueConstraint('endpoint', name=op.f('uq_push_subscriptions_endpoint')),
        schema='notify',
    )
    op.create_index('ix_push_subscriptions_profile', 'push_subscriptions', ['profile_id'], schema='notify')
    op.create_table(
        'vapid_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_key', sa.String(length=200), nullable=False),
        sa.Column('private_key', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_vapid_keys')),
        schema='notify',
    )
    # A member with two phones gets two push deliveries of one notification: the target joins the key.
    op.drop_constraint('uq_deliveries_notification_channel', 'deliveries', schema='notify')
    op.create_unique_constraint('uq_deliveries_notification_channel_target', 'deliveries',
                                ['notification_id', 'channel', 'target'], schema='notify')


def downgrade() -> None:
    op.execute("DELETE FROM notify.deliveries WHERE channel = 'push'")
    op.drop_constraint('uq_deliveries_notification_channel_target', 'deliveries', schema='notify')
    op.create_unique_constraint('uq_deliveries_notification_channel', 'deliveries',
                                ['notification_id', 'channel'], schema='notify')
    op.drop_table('vapid_keys', schema='notify')
    op.drop_index('ix_push_subscriptions_profile', table_name='push_subscriptions', schema='notify')
    op.drop_table('push_subscriptions', schema='notify')
