"""devices, pairing, proctoring

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:35:44.825730
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('interruptions',
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('started_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_interruptions_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_interruptions_sitting_id_sittings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interruptions'))
    )
    with op.batch_alter_table('interruptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interruptions_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_interruptions_sitting_id'), ['sitting_id'], unique=False)

    op.create_table('pairing_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('candidate_id', sa.Uuid(), nullable=False),
    sa.Column('created_by_device_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by_device_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_pairing_tokens_candidate_id_candidates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_device_id'], ['devices.id'], name=op.f('fk_pairing_tokens_created_by_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_pairing_tokens_sitting_id_sittings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['used_by_device_id'], ['devices.id'], name=op.f('fk_pairing_tokens_used_by_device_id_devices'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairing_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_pairing_tokens_token_hash'))
    )
    with op.batch_alter_table('pairing_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pairing_tokens_sitting_id'), ['sitting_id'], unique=False)

    op.create_table('proctor_events',
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('client_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_proctor_events_device_id_devices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_proctor_events_sitting_id_sittings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proctor_events'))
    )
    with op.batch_alter_table('proctor_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proctor_events_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_proctor_events_sitting_id'), ['sitting_id'], unique=False)

    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connected_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('disconnected_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('telemetry', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))

    with op.batch_alter_table('exams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interruption_limit', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('interruption_grace_seconds', sa.Integer(), nullable=False, server_default='120'))



def downgrade() -> None:
    with op.batch_alter_table('exams', schema=None) as batch_op:
        batch_op.drop_column('interruption_grace_seconds')
        batch_op.drop_column('interruption_limit')

    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('telemetry')
        batch_op.drop_column('disconnected_at')
        batch_op.drop_column('connected_at')

    with op.batch_alter_table('proctor_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proctor_events_sitting_id'))
        batch_op.drop_index(batch_op.f('ix_proctor_events_kind'))

    op.drop_table('proctor_events')
    with op.batch_alter_table('pairing_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pairing_tokens_sitting_id'))

    op.drop_table('pairing_tokens')
    with op.batch_alter_table('interruptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interruptions_sitting_id'))
        batch_op.drop_index(batch_op.f('ix_interruptions_device_id'))

    op.drop_table('interruptions')
