"""conduct reviews

Four new tables for the staff's review of a sitting's conduct: `review_claims` (who is looking, until when),
`flag_verdicts` (confirmed or dismissed, one current per flag), `incidents` (what a reviewer saw that no flag caught)
and `conduct_decisions` (every version of a sitting's decision, with its second look). Same DDL on SQLite and
PostgreSQL.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 16:06:38.279298
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('conduct_decisions',
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Enum('clean', 'suspicious', 'violation', 'technical', name='outcome', native_enum=False, length=16), nullable=False),
    sa.Column('reason_codes', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('final', 'awaiting_second', 'disputed', name='decisionstatus', native_enum=False, length=16), nullable=False),
    sa.Column('decided_by', sa.Uuid(), nullable=False),
    sa.Column('decided_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('second_by', sa.Uuid(), nullable=True),
    sa.Column('second_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('second_agrees', sa.Boolean(), nullable=True),
    sa.Column('second_note', sa.Text(), nullable=True),
    sa.Column('superseded_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopen_note', sa.Text(), nullable=True),
    sa.Column('reopened_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by'], ['staff_users.id'], name=op.f('fk_conduct_decisions_decided_by_staff_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reopened_by'], ['staff_users.id'], name=op.f('fk_conduct_decisions_reopened_by_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['second_by'], ['staff_users.id'], name=op.f('fk_conduct_decisions_second_by_staff_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_conduct_decisions_sitting_id_sittings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conduct_decisions'))
    )
    with op.batch_alter_table('conduct_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_conduct_decisions_sitting_id_version', ['sitting_id', 'version'], unique=True)

    op.create_table('incidents',
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.Enum('main', 'aux', name='devicerole', native_enum=False, length=8), nullable=True),
    sa.Column('offset_s', sa.Float(), nullable=False),
    sa.Column('occurred_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason_code', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_incidents_sitting_id_sittings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_incidents_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_sitting_id'), ['sitting_id'], unique=False)

    op.create_table('review_claims',
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('claimed_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_review_claims_sitting_id_sittings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_review_claims_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sitting_id', name=op.f('pk_review_claims'))
    )
    with op.batch_alter_table('review_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_claims_staff_id'), ['staff_id'], unique=False)

    op.create_table('flag_verdicts',
    sa.Column('flag_id', sa.Uuid(), nullable=False),
    sa.Column('sitting_id', sa.Uuid(), nullable=False),
    sa.Column('verdict', sa.Enum('confirmed', 'dismissed', name='verdict', native_enum=False, length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], name=op.f('fk_flag_verdicts_flag_id_flags'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sitting_id'], ['sittings.id'], name=op.f('fk_flag_verdicts_sitting_id_sittings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_flag_verdicts_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('flag_id', name=op.f('pk_flag_verdicts'))
    )
    with op.batch_alter_table('flag_verdicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_verdicts_sitting_id'), ['sitting_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('flag_verdicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_verdicts_sitting_id'))

    op.drop_table('flag_verdicts')
    with op.batch_alter_table('review_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_claims_staff_id'))

    op.drop_table('review_claims')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_sitting_id'))

    op.drop_table('incidents')
    with op.batch_alter_table('conduct_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_conduct_decisions_sitting_id_version')

    op.drop_table('conduct_decisions')
