"""recordings and tus uploads

New tables only: `tus_uploads` (the protocol's state, see app.uploads) and `recordings` (one per sitting and role,
pointing at the upload that carries it). Same DDL on SQLite and PostgreSQL (JSONB for the store state there).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 01:54:10
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tus_uploads',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('upload_offset', sa.BigInteger(), nullable=False),
    sa.Column('upload_length', sa.BigInteger(), nullable=True),
    sa.Column('max_size', sa.BigInteger(), nullable=True),
    sa.Column('upload_metadata', sa.JSON(), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('store_state', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('chain_sha256', sa.String(length=64), nullable=False),
    sa.Column('chunk_count', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('gone_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('gone_reason', sa.String(length=20), nullable=True),
    sa.Column('lock_token', sa.String(length=64), nullable=True),
    sa.Column('lock_expires_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lock_release_requested', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tus_uploads'))
    )
    with op.batch_alter_table('tus_uploads', schema=None) as batch_op:
        batch_op.create_index('ix_tus_uploads_expires_at', ['expires_at'], unique=False)
        batch_op.create_index('ix_tus_uploads_subject', ['subject'], unique=False)

    op.create_table('recordings',
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.Enum('main', 'aux', name='devicerole', native_enum=False, length=8), nullable=False),
    sa.Column('upload_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('receiving', 'verified', 'failed', name='recordingstatus', native_enum=False, length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('chain_sha256', sa.String(length=64), nullable=True),
    sa.Column('container', sa.String(length=40), nullable=True),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('media', sa.JSON(), nullable=False),
    sa.Column('failure_reason', sa.String(length=300), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verified_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_recordings_sitting_id_sittings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings')),
    sa.UniqueConstraint('sitting_id', 'role', name=op.f('uq_recordings_sitting_id_role')),
    sa.UniqueConstraint('upload_id', name=op.f('uq_recordings_upload_id'))
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_sitting_id'), ['sitting_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_sitting_id'))

    op.drop_table('recordings')
    with op.batch_alter_table('tus_uploads', schema=None) as batch_op:
        batch_op.drop_index('ix_tus_uploads_subject')
        batch_op.drop_index('ix_tus_uploads_expires_at')

    op.drop_table('tus_uploads')
