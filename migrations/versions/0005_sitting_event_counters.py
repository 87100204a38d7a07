"""sitting event counters

Two counters on `sittings` for the cap on a sitting's device events (count and bytes of details). Sittings of before
start at zero: their earlier events are not counted.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sittings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_event_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('device_event_bytes', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('sittings', schema=None) as batch_op:
        batch_op.drop_column('device_event_bytes')
        batch_op.drop_column('device_event_count')
