"""flags and analysis jobs

Two new tables: `flags` (every stretch worth a reviewer's look, whatever found it; unique per sitting and origin)
and `analysis_jobs` (one per recording, sha256 and analyzer version, with its claim and lease). Same DDL on SQLite and
PostgreSQL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('analysis_jobs',
    sa.Column('recording_id', sa.Uuid(), nullable=False),
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('analyzer_version', sa.String(length=20), nullable=False),
    sa.Column('status', sa.Enum('pending', 'running', 'done', 'failed', name='analysisstatus', native_enum=False, length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('failure_reason', sa.String(length=300), nullable=True),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('lease_until', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('queued_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_analysis_jobs_recording_id_recordings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_analysis_jobs_sitting_id_sittings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analysis_jobs')),
    sa.UniqueConstraint('recording_id', 'sha256', 'analyzer_version', name=op.f('uq_analysis_jobs_recording_id_sha256_analyzer_version'))
    )
    with op.batch_alter_table('analysis_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analysis_jobs_sitting_id'), ['sitting_id'], unique=False)
        batch_op.create_index('ix_analysis_jobs_status_queued_at', ['status', 'queued_at'], unique=False)

    op.create_table('flags',
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('recording_id', sa.Uuid(), nullable=True),
    sa.Column('origin', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('role', sa.Enum('main', 'aux', name='devicerole', native_enum=False, length=8), nullable=False),
    sa.Column('source', sa.Enum('recording', 'live', 'event', name='flagsource', native_enum=False, length=12), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=False),
    sa.Column('started_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('analyzer_version', sa.String(length=20), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('superseded_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_flags_recording_id_recordings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_flags_sitting_id_sittings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags')),
    sa.UniqueConstraint('sitting_id', 'origin', name=op.f('uq_flags_sitting_id_origin'))
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_recording_id'), ['recording_id'], unique=False)
        batch_op.create_index('ix_flags_sitting_id_kind', ['sitting_id', 'kind'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index('ix_flags_sitting_id_kind')
        batch_op.drop_index(batch_op.f('ix_flags_recording_id'))

    op.drop_table('flags')
    with op.batch_alter_table('analysis_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_analysis_jobs_status_queued_at')
        batch_op.drop_index(batch_op.f('ix_analysis_jobs_sitting_id'))

    op.drop_table('analysis_jobs')
