from __future__ import annotations

import uuid

from app.schemas import Output


class ImportedCandidate(Output):
    row: int
    candidate_id: uuid.UUID
    name: str
    id_number_masked: str
    phone: str
    access_code: str


class RosterImportOut(Output):
    dry_run: bool
    rows: int
    imported: list[ImportedCandidate]


class AccessCodeOut(Output):
    candidate_id: uuid.UUID
    access_code: str


class CandidatePage(Output):
    total: int
    offset: int
    items: list["CandidateOut"]  # noqa: UP037


from app.schemas.candidates import CandidateOut  # noqa: E402

CandidatePage.model_rebuild()
