"""grading and results

Blind grading and published results: `grading_plans` (a session's rubric, graders per sitting, tolerance),
`session_graders` (graders given a session, with their code), `grading_codes` (a sitting's anonymous code),
`grade_sheets` (one grader's scores for one sitting), `score_overrides` (a final score set by hand) and
`result_publications` (every published version, frozen with its sha256); and `exams.conduct_rules`, an exam's own
consequence for a violation's reason where it departs from the seed's rules. Same DDL on SQLite and PostgreSQL.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 07:06:27
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('grading_plans',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('rubric', sa.JSON(), nullable=False),
    sa.Column('graders_per_sitting', sa.Integer(), nullable=False),
    sa.Column('tolerance', sa.Float(), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], name=op.f('fk_grading_plans_session_id_exam_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by'], ['staff_users.id'], name=op.f('fk_grading_plans_updated_by_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_grading_plans'))
    )
    op.create_table('result_publications',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('published_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.Uuid(), nullable=True),
    sa.Column('reopened_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopened_by', sa.Uuid(), nullable=True),
    sa.Column('reopen_reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['published_by'], ['staff_users.id'], name=op.f('fk_result_publications_published_by_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reopened_by'], ['staff_users.id'], name=op.f('fk_result_publications_reopened_by_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], name=op.f('fk_result_publications_session_id_exam_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_publications')),
    sa.UniqueConstraint('session_id', 'version', name=op.f('uq_result_publications_session_id_version'))
    )
    with op.batch_alter_table('result_publications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_result_publications_session_id'), ['session_id'], unique=False)

    op.create_table('session_graders',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('assigned_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('assigned_by', sa.Uuid(), nullable=True),
    sa.Column('removed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assigned_by'], ['staff_users.id'], name=op.f('fk_session_graders_assigned_by_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], name=op.f('fk_session_graders_session_id_exam_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_session_graders_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'staff_id', name=op.f('pk_session_graders')),
    sa.UniqueConstraint('session_id', 'code', name=op.f('uq_session_graders_session_id_code'))
    )
    with op.batch_alter_table('session_graders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_graders_staff_id'), ['staff_id'], unique=False)

    op.create_table('grade_sheets',
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('grader_id', sa.Uuid(), nullable=False),
    sa.Column('extra', sa.Boolean(), nullable=False),
    sa.Column('assigned_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('total', sa.Float(), nullable=True),
    sa.Column('saved_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['grader_id'], ['staff_users.id'], name=op.f('fk_grade_sheets_grader_id_staff_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], name=op.f('fk_grade_sheets_session_id_exam_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_grade_sheets_sitting_id_sittings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_sheets')),
    sa.UniqueConstraint('sitting_id', 'grader_id', name=op.f('uq_grade_sheets_sitting_id_grader_id'))
    )
    with op.batch_alter_table('grade_sheets', schema=None) as batch_op:
        batch_op.create_index('ix_grade_sheets_session_id_grader_id', ['session_id', 'grader_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grade_sheets_sitting_id'), ['sitting_id'], unique=False)

    op.create_table('grading_codes',
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], name=op.f('fk_grading_codes_session_id_exam_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_grading_codes_sitting_id_sittings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sitting_id', name=op.f('pk_grading_codes')),
    sa.UniqueConstraint('session_id', 'code', name=op.f('uq_grading_codes_session_id_code'))
    )
    op.create_table('score_overrides',
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('set_by', sa.Uuid(), nullable=True),
    sa.Column('set_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['set_by'], ['staff_users.id'], name=op.f('fk_score_overrides_set_by_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_score_overrides_sitting_id_sittings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sitting_id', name=op.f('pk_score_overrides'))
    )
    with op.batch_alter_table('exams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conduct_rules', sa.JSON(), server_default=sa.text("'{}'"), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('exams', schema=None) as batch_op:
        batch_op.drop_column('conduct_rules')

    op.drop_table('score_overrides')
    op.drop_table('grading_codes')
    with op.batch_alter_table('grade_sheets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grade_sheets_sitting_id'))
        batch_op.drop_index('ix_grade_sheets_session_id_grader_id')

    op.drop_table('grade_sheets')
    with op.batch_alter_table('session_graders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_graders_staff_id'))

    op.drop_table('session_graders')
    with op.batch_alter_table('result_publications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_result_publications_session_id'))

    op.drop_table('result_publications')
    op.drop_table('grading_plans')
