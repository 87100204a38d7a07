"""staff exams: the exams assigned to a staff member

A new table only: `staff_exams` (staff_id, exam_id) with when and by whom. Ops read every exam; other staff roles
read only the exams assigned here. Same DDL on SQLite and PostgreSQL.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 09:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_exams',
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('exam_id', sa.Uuid(), nullable=False),
    sa.Column('assigned_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('assigned_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['assigned_by'], ['staff_users.id'], name=op.f('fk_staff_exams_assigned_by_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['exam_id'], ['exams.id'], name=op.f('fk_staff_exams_exam_id_exams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_exams_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'exam_id', name=op.f('pk_staff_exams'))
    )
    with op.batch_alter_table('staff_exams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_exams_exam_id'), ['exam_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staff_exams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_exams_exam_id'))
    op.drop_table('staff_exams')
