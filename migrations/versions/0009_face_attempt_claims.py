"""face attempt claims

`candidates.identity_attempt_at`, `sittings.gate_attempt_at`: when the latest identity selfie / waiting-room capture
was judged, claimed by a conditional update so that captures sent at once are judged one after another. Added
nullable columns only: the same DDL runs on SQLite and PostgreSQL.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_attempt_at', app.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('sittings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gate_attempt_at', app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Not in batch mode: SQLite (3.35+) drops a column in place, where a batch would copy the table, and dropping
    # the old copy of `sittings` or `candidates` would cascade to every row that refers to it.
    op.drop_column('sittings', 'gate_attempt_at')
    op.drop_column('candidates', 'identity_attempt_at')
