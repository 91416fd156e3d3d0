"""outcomes per generation: who answered (provider, model, template), answers, posts, choices

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('a_generations', sa.Column('provider', sa.String(length=80), nullable=True), schema='admin')
    op.add_column('a_generations', sa.Column('model', sa.String(length=200), nullable=True), schema='admin')
    op.add_column('a_generations', sa.Column('template_version', sa.String(length=80), nullable=True),
                  schema='admin')
    op.add_column('a_generations', sa.Column('fallback', sa.Boolean(), nullable=True), schema='admin')
    op.add_column('a_generations', sa.Column('cost_usd', sa.Float(), nullable=True), schema='admin')
    op.create_index('ix_a_generations_by', 'a_generations', ['template_version', 'provider', 'model'],
                    unique=False, schema='admin')
    # The order of GET /v1/admin/analytics/generations (newest first, keyset).
    op.execute("CREATE INDEX ix_a_generations_at ON admin.a_generations "
               "((coalesce(finished_at, started_at)) DESC, key DESC)")

    op.add_column('a_tasks', sa.Column('generation_id', sa.String(length=64), nullable=True), schema='admin')
    op.create_index('ix_a_tasks_generation', 'a_tasks', ['generation_id'], unique=False, schema='admin')

    op.add_column('a_ratings', sa.Column('rater_id', sa.String(length=64), nullable=True), schema='admin')
    op.create_index('ix_a_ratings_gen', 'a_ratings', ['generation_id', 'rater_id', 'at'], unique=False,
                    schema='admin')

    op.create_table('a_posts',
    sa.Column('post_id', sa.String(length=64), nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('post_id', name=op.f('pk_a_posts')),
    schema='admin'
    )
    op.create_index('ix_a_posts_task', 'a_posts', ['task_id'], unique=False, schema='admin')

    op.create_table('a_answers',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_a_answers')),
    schema='admin'
    )
    op.create_index('ix_a_answers_session', 'a_answers', ['session_id', 'at'], unique=False, schema='admin')
    # Answers folded before this revision: their first time is all that is known.
    op.execute("INSERT INTO admin.a_answers (event_id, session_id, profile_id, at) "
               "SELECT left('backfill:' || md5(session_id || ':' || profile_id), 64), session_id, "
               "profile_id, answered_at FROM admin.a_members WHERE answered_at IS NOT NULL")

    # The audit log already holds what the new columns need for data folded before this revision.
    op.execute("UPDATE admin.a_tasks t SET generation_id = left(a.after->>'generationId', 64) "
               "FROM admin.audit_log a WHERE a.entity = 'task' AND a.action = 'task.assigned' "
               "AND a.entity_id = t.task_id AND t.generation_id IS NULL "
               "AND a.after->>'generationId' IS NOT NULL")
    op.execute("INSERT INTO admin.a_posts (post_id, task_id, rating, at) "
               "SELECT DISTINCT ON (a.entity_id) a.entity_id, left(a.after->>'taskId', 64), "
               "CASE WHEN jsonb_typeof(a.after->'rating') = 'number' AND (a.after->>'rating') IN "
               "('1', '2', '3', '4', '5') THEN (a.after->>'rating')::int END, a.at "
               "FROM admin.audit_log a WHERE a.entity = 'post' AND a.action = 'post.created' "
               "AND a.after->>'taskId' IS NOT NULL ORDER BY a.entity_id, a.seq DESC "
               "ON CONFLICT (post_id) DO NOTHING")
    op.execute("UPDATE admin.a_posts p SET deleted_at = a.at FROM admin.audit_log a "
               "WHERE a.entity = 'post' AND a.action = 'post.deleted' AND a.entity_id = p.post_id")
    op.execute("UPDATE admin.a_ratings r SET rater_id = left(a.actor_id, 64) FROM admin.audit_log a "
               "WHERE a.event_id = r.event_id AND r.rater_id IS NULL")

    op.create_table('a_choices',
    sa.Column('generation_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('chosen_rank', sa.Integer(), nullable=False),
    sa.Column('how', sa.String(length=20), nullable=False),
    sa.Column('votes_cast', sa.Integer(), nullable=False),
    sa.Column('votes_first', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('generation_id', name=op.f('pk_a_choices')),
    schema='admin'
    )


def downgrade() -> None:
    op.drop_table('a_choices', schema='admin')
    op.drop_index('ix_a_answers_session', table_name='a_answers', schema='admin')
    op.drop_table('a_answers', schema='admin')
    op.drop_index('ix_a_posts_task', table_name='a_posts', schema='admin')
    op.drop_table('a_posts', schema='admin')
    op.drop_index('ix_a_ratings_gen', table_name='a_ratings', schema='admin')
    op.drop_column('a_ratings', 'rater_id', schema='admin')
    op.drop_index('ix_a_tasks_generation', table_name='a_tasks', schema='admin')
    op.drop_column('a_tasks', 'generation_id', schema='admin')
    op.execute("DROP INDEX IF EXISTS admin.ix_a_generations_at")
    op.drop_index('ix_a_generations_by', table_name='a_generations', schema='admin')
    for col in ('cost_usd', 'fallback', 'template_version', 'model', 'provider'):
        op.drop_column('a_generations', col, schema='admin')
