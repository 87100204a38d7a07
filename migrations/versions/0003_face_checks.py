"""face enrolments, face checks, face reviews

New tables only (no change to existing ones), so the same DDL runs on SQLite and PostgreSQL; the partial unique
index (one open review per candidate) is supported by both.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 23:04:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('face_enrolments',
    sa.Column('candidate_id', sa.Uuid(), nullable=False),
    sa.Column('pack', sa.String(length=32), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=False),
    sa.Column('dimension', sa.Integer(), nullable=False),
    sa.Column('source', sa.Enum('id_photo', 'candidate_upload', name='enrolmentsource', native_enum=False), nullable=False),
    sa.Column('image_key', sa.String(length=300), nullable=False),
    sa.Column('faces', sa.Integer(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('enrolled_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_face_enrolments_candidate_id_candidates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_enrolments')),
    sa.UniqueConstraint('candidate_id', 'pack', name=op.f('uq_face_enrolments_candidate_id_pack'))
    )
    op.create_table('face_reviews',
    sa.Column('candidate_id', sa.Uuid(), nullable=False),
    sa.Column('opened_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('resolved_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.Uuid(), nullable=True),
    sa.Column('decision', sa.Enum('approve', 'reject', name='reviewdecision', native_enum=False, length=8), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_face_reviews_candidate_id_candidates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by'], ['staff_users.id'], name=op.f('fk_face_reviews_resolved_by_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_reviews'))
    )
    with op.batch_alter_table('face_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_reviews_candidate_id'), ['candidate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_reviews_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index('uq_face_reviews_open_candidate_id', ['candidate_id'], unique=True, sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))

    op.create_table('face_checks',
    sa.Column('candidate_id', sa.Uuid(), nullable=False),
    sa.Column('sitting_id', sa.Uuid(), nullable=True),
    sa.Column('device_id', sa.Uuid(), nullable=True),
    sa.Column('purpose', sa.Enum('identity', 'waiting', 'in_exam', name='facepurpose', native_enum=False, length=16), nullable=False),
    sa.Column('similarity', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('pack', sa.String(length=32), nullable=False),
    sa.Column('faces', sa.Integer(), nullable=False),
    sa.Column('match', sa.Boolean(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('counted', sa.Boolean(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('image_key', sa.String(length=300), nullable=True),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_face_checks_candidate_id_candidates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_face_checks_device_id_devices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_face_checks_sitting_id_sittings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_checks'))
    )
    with op.batch_alter_table('face_checks', schema=None) as batch_op:
        batch_op.create_index('ix_face_checks_candidate_id_purpose_at', ['candidate_id', 'purpose', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_checks_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_checks_sitting_id'), ['sitting_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('face_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_checks_sitting_id'))
        batch_op.drop_index(batch_op.f('ix_face_checks_device_id'))
        batch_op.drop_index('ix_face_checks_candidate_id_purpose_at')

    op.drop_table('face_checks')
    with op.batch_alter_table('face_reviews', schema=None) as batch_op:
        batch_op.drop_index('uq_face_reviews_open_candidate_id', sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_face_reviews_opened_at'))
        batch_op.drop_index(batch_op.f('ix_face_reviews_candidate_id'))

    op.drop_table('face_reviews')
    op.drop_table('face_enrolments')
