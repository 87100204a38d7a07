"""Ops: roster import and candidate accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile, status

from app import errors
from app.api.deps import DB, ROSTER_BODY, Now, Ops, Scope, SettingsDep, Staff, Store
from app.schemas.candidates import CandidateOut
from app.schemas.roster import AccessCodeOut, CandidatePage, ImportedCandidate, RosterImportOut
from app.services.exam import candidates, exams, photo_archive, roster

router = APIRouter(prefix="/api/v1/ops", tags=["ops: roster"])

_MAX_CSV_BYTES = 20 * 1024 * 1024


async def _read_capped(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise errors.PayloadTooLarge()
    return data


@router.post(
    "/exams/{exam_id}/roster",
    response_model=RosterImportOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(
        errors.ExamNotFound,
        errors.RosterRejected,
        errors.RosterUnreadable,
        errors.PhotoArchiveUnreadable,
        errors.PhotoArchiveTooLarge,
        errors.PayloadTooLarge,
    ),
    openapi_extra=ROSTER_BODY,
)
async def import_roster(
    exam_id: uuid.UUID,
    principal: Ops,
    db: DB,
    now: Now,
    store: Store,
    settings: SettingsDep,
    csv_file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK) or XLSX (the first sheet; ID numbers as text): 姓名/name, 身份证号/id_number, 手机号/phone, 照片/photo")],
    photos: Annotated[UploadFile | None, File(description="zip of the photo files named in the roster")] = None,
    dry_run: Annotated[bool, Query(description="check only, import nothing")] = False,
) -> RosterImportOut:
    """Import a roster: all rows or none; answers with each candidate's access code (shown only once)."""
    exam = await exams.get_exam(db, exam_id)
    csv_data = await _read_capped(csv_file, _MAX_CSV_BYTES)
    archive = photo_archive.read_photo_archive(await _read_capped(photos, photo_archive.MAX_ARCHIVE_BYTES)) if photos else None
    result = await roster.import_roster(
        db, exam=exam, data=csv_data, photos=archive, store=store, secret_key=settings.secret_key, dry_run=dry_run, now=now, actor=principal.actor
    )
    return RosterImportOut(
        dry_run=result.dry_run,
        rows=result.rows,
        imported=[ImportedCandidate.model_validate(i, from_attributes=True) for i in result.imported],
    )


@router.get("/exams/{exam_id}/candidates", response_model=CandidatePage, responses=errors.responses(errors.ExamNotFound))
async def list_candidates(
    exam_id: uuid.UUID,
    principal: Staff,
    scope: Scope,
    db: DB,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,  # unbounded, a huge offset overflows the database integer
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CandidatePage:
    """The exam's roster, a page at a time (ID numbers masked)."""
    exam = await exams.get_exam(db, exam_id, scope=scope)
    total, rows = await candidates.list_candidates(db, exam_id=exam.id, offset=offset, limit=limit)
    return CandidatePage(total=total, offset=offset, items=[CandidateOut.of(c, exam.timezone) for c in rows])


@router.post("/candidates/{candidate_id}/access-code", response_model=AccessCodeOut, responses=errors.responses(errors.CandidateNotFound))
async def reissue_access_code(candidate_id: uuid.UUID, principal: Ops, db: DB, now: Now, settings: SettingsDep) -> AccessCodeOut:
    """Issue a new access code (forgotten password); the old password stops working."""
    candidate = await candidates.get_candidate(db, candidate_id)
    code = await roster.reissue_access_code(db, candidate=candidate, secret_key=settings.secret_key, now=now, actor=principal.actor)
    return AccessCodeOut(candidate_id=candidate.id, access_code=code)
