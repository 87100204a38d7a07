"""playback copies

A recording's playback copy (remuxed with a duration and cues so browsers can seek it): where it is in the upload
store, its size and store state, the sha256 of the original it was made from, and why making one failed. Recordings
verified before this revision get theirs from the scheduler's backfill job.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 13:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('recordings') as batch:
        batch.add_column(sa.Column('playback_key', sa.String(length=300), nullable=True))
        batch.add_column(sa.Column('playback_size', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('playback_state', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('playback_of', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('playback_error', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('recordings') as batch:
        for column in ('playback_error', 'playback_of', 'playback_state', 'playback_size', 'playback_key'):
            batch.drop_column(column)
