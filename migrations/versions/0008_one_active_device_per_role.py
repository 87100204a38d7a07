"""one active device per sitting and role

A partial unique index on devices (sitting_id, role) WHERE superseded_at IS NULL, so two log-ins of one role at the
same moment cannot both stay active. Rows that already break it (left by such log-ins) are superseded first, keeping
the newest phone of each role, as a log-in would have. An index only (no table rebuild): the same DDL runs on SQLite
and PostgreSQL.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = 'superseded_at IS NULL'

# An active phone with a newer active phone of its role: superseded when the newer one logged in.
_NEWER = (
    'FROM devices AS newer WHERE newer.sitting_id = devices.sitting_id AND newer.role = devices.role '
    'AND newer.superseded_at IS NULL '
    'AND (newer.created_at > devices.created_at OR (newer.created_at = devices.created_at AND newer.id > devices.id))'
)


def upgrade() -> None:
    op.execute(
        f'UPDATE devices SET superseded_at = (SELECT MIN(newer.created_at) {_NEWER}) '
        f'WHERE superseded_at IS NULL AND EXISTS (SELECT 1 {_NEWER})'
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index('uq_devices_active_sitting_id_role', ['sitting_id', 'role'], unique=True, sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('uq_devices_active_sitting_id_role', sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
