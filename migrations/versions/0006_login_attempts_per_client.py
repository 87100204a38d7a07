"""login attempts per client

Failed log-ins are counted per (account, client) and per client, so `login_attempts` gains `client_hash` (a keyed
hash of the client's address bucket, app.security.client_digest) and the two indexes those counts read. Its rows
only matter for the 15-minute window and cannot be given a client after the fact: they are dropped, not migrated.
`key_hash` changes meaning too (a keyed hash of the account), another reason the old rows are of no use.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 09:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text('DELETE FROM login_attempts'))
    # recreate="always": SQLite cannot ADD COLUMN ... NOT NULL without a default, even to an empty table.
    with op.batch_alter_table('login_attempts', schema=None, recreate='always') as batch_op:
        batch_op.drop_index('ix_login_attempts_key_hash')
        batch_op.add_column(sa.Column('client_hash', sa.String(length=64), nullable=False))
        batch_op.create_index('ix_login_attempts_key_client_at', ['key_hash', 'client_hash', 'at'], unique=False)
        batch_op.create_index('ix_login_attempts_client_at', ['client_hash', 'at'], unique=False)


def downgrade() -> None:
    op.execute(sa.text('DELETE FROM login_attempts'))
    with op.batch_alter_table('login_attempts', schema=None, recreate='always') as batch_op:
        batch_op.drop_index('ix_login_attempts_client_at')
        batch_op.drop_index('ix_login_attempts_key_client_at')
        batch_op.drop_column('client_hash')
        batch_op.create_index('ix_login_attempts_key_hash', ['key_hash'], unique=False)
