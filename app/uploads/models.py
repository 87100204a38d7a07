"""The upload row, on the application's metadata (migration 0004). The protocol stays exam-agnostic: `owner` and
`subject` are opaque strings. Column names avoid SQL keywords (`offset`, `length`, `metadata`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

JsonDict = JSON().with_variant(JSONB(), "postgresql")


class UploadRow(Base):
    __tablename__ = "tus_uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Opaque to the protocol: `owner` is the principal's (only it may HEAD/PATCH/DELETE), `subject` is what the
    # upload is for (e.g. "sitting:<id>:main"), both chosen by the application's callbacks.
    owner: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200))
    upload_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    upload_length: Mapped[int | None] = mapped_column(BigInteger)  # NULL: deferred (Upload-Defer-Length: 1)
    max_size: Mapped[int | None] = mapped_column(BigInteger)
    # JSON, not JSONB: HEAD must answer the metadata in the client's order, and JSONB sorts keys.
    upload_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    storage_key: Mapped[str] = mapped_column(String(300))
    store_state: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)  # e.g. S3 UploadId, parts, staged leftovers
    # h_0 = 32 zero bytes, h_n = sha256(h_{n-1} || sha256(chunk_n)) over the stored body of each write.
    chain_sha256: Mapped[str] = mapped_column(String(64))
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the whole upload, set at finish
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]  # the last byte committed (set with the offset that reaches the length)
    finished_at: Mapped[datetime | None]
    gone_at: Mapped[datetime | None]  # terminated or expired: answers 410 from then on
    gone_reason: Mapped[str | None] = mapped_column(String(20))
    # The write lock: a lease (see app.uploads.tus, "Locking").
    lock_token: Mapped[str | None] = mapped_column(String(64))
    lock_expires_at: Mapped[datetime | None]
    lock_release_requested: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_tus_uploads_subject", "subject"),
        Index("ix_tus_uploads_expires_at", "expires_at"),
    )
