"""Roster import: a CSV (UTF-8 or GBK) or XLSX of name, ID number, phone and an optional photo file name (reading the
file: app.services.exam.roster_files).

All or nothing: if any row is rejected, nothing is imported and every rejected row is reported, with its row and
column."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.adapters.storage import ObjectStore
from app.face import FaceInputError, ImageTooLarge
from app.face.budgets import ID_PHOTO, open_image
from app.models import Candidate, Exam
from app.security import (
    access_code_digest,
    id_number_digest,
    mask_id_number,
    new_access_code,
    normalize_id_number,
    normalize_phone,
    valid_id_number,
    valid_phone,
)
from app.services import auth
from app.services.audit import Actor, record
from app.services.exam.roster_files import read_table
from app.services.images import sniff_image

MAX_ROWS = 50_000
CHECKING, IMPORTING = "检查名单 Checking rows", "导入考生 Importing candidates"

HEADER_ALIASES = {
    "name": {"name", "姓名"},
    "id_number": {"id_number", "身份证号", "身份证号码", "证件号码", "证件号"},
    "phone": {"phone", "手机号", "手机号码", "手机", "联系电话"},
    "photo": {"photo", "照片", "照片文件", "照片文件名"},
}
REQUIRED = ("name", "id_number", "phone")

ROW_ERRORS: dict[str, tuple[str, str]] = {
    "bad_encoding": ("该行编码无法识别（请使用 UTF-8 或 GBK）", "Unreadable encoding in this row (use UTF-8 or GBK)"),
    "missing_name": ("姓名为空", "The name is empty"),
    "name_too_long": ("姓名过长（最多 100 字）", "The name is too long (100 characters at most)"),
    "name_has_line_break": ("姓名中有换行（请删去单元格内的换行）", "The name contains a line break (remove it from the cell)"),
    "invalid_id_number": ("身份证号格式或校验位错误", "Invalid ID number (format or check digit)"),
    "id_number_not_text": (
        "身份证号被 Excel 存成了数字，超过 15 位的数字已丢失：请将该列设为文本格式后重新填写",
        "Excel stored the ID number as a number, which loses digits past the 15th: format the column as text and enter it again",
    ),
    "invalid_phone": ("手机号格式错误", "Invalid mobile phone number"),
    "duplicate_id_number": ("身份证号与名单中其他行重复", "The ID number repeats another row of the file"),
    "duplicate_phone": ("手机号与名单中其他行重复", "The phone repeats another row of the file"),
    "id_number_on_roster": ("该身份证号已在本考试名单中", "The ID number is already on this exam's roster"),
    "phone_on_roster": ("该手机号已在本考试名单中", "The phone is already on this exam's roster"),
    "photo_missing": ("照片文件未在压缩包中找到", "The photo file is not in the archive"),
    "photo_not_image": ("照片不是 JPEG 或 PNG 图片", "The photo is not a JPEG or PNG image"),
    "photo_too_large": ("照片超过 10 MB", "The photo is larger than 10 MB"),
    "photo_dimensions_too_large": (
        "照片尺寸过大（PNG 长边最多 4000 像素，JPEG 最多 4000 万像素）",
        "The photo's dimensions are too large (a PNG at most 4000 px on its longer side, a JPEG at most 40 megapixels)",
    ),
}


# The column each row error is about (its title as the file has it goes in the error).
ERROR_COLUMNS = {
    "missing_name": "name", "name_too_long": "name", "name_has_line_break": "name",
    "invalid_id_number": "id_number", "id_number_not_text": "id_number", "duplicate_id_number": "id_number", "id_number_on_roster": "id_number",
    "invalid_phone": "phone", "duplicate_phone": "phone", "phone_on_roster": "phone",
    "photo_missing": "photo", "photo_not_image": "photo", "photo_too_large": "photo", "photo_dimensions_too_large": "photo",
}  # fmt: skip


@dataclass
class RowReport:
    row: int
    name: str
    titles: dict[str, str] = field(default_factory=dict)  # canonical column → its title in the file
    errors: list[dict[str, str]] = field(default_factory=list)

    def reject(self, code: str) -> None:
        zh, en = ROW_ERRORS[code]
        error = {"code": code, "message": zh, "message_en": en}
        if (column := ERROR_COLUMNS.get(code)) is not None:
            error["column"] = self.titles.get(column, column)
        self.errors.append(error)


@dataclass(frozen=True, slots=True)
class Imported:
    row: int
    candidate_id: uuid.UUID
    name: str
    id_number_masked: str
    phone: str
    access_code: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    dry_run: bool
    rows: int
    imported: list[Imported]


@dataclass
class _Row:
    line: int
    name: str
    id_number: str
    phone: str
    photo: str
    report: RowReport
    id_number_numeric: bool = False  # an XLSX cell Excel stored as a number: digits past the 15th are lost


def _header_map(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        key = title.strip().lower().lstrip("\ufeff")
        for canonical, aliases in HEADER_ALIASES.items():
            if key in aliases and canonical not in columns:
                columns[canonical] = index
    if any(name not in columns for name in REQUIRED):
        raise errors.RosterUnreadable(details={"header": header})
    return columns


def parse_rows(data: bytes) -> tuple[list[_Row], list[RowReport]]:
    table = read_table(data)
    columns = _header_map(table.header)
    titles = {name: table.header[index].strip().lstrip("\ufeff") for name, index in columns.items()}
    rows: list[_Row] = []
    undecodable: list[RowReport] = []
    for line in table.records:
        if len(rows) + len(undecodable) >= MAX_ROWS:
            raise errors.PayloadTooLarge()
        if line.cells is None:
            report = RowReport(line.number, "", titles)
            report.reject("bad_encoding")
            undecodable.append(report)
            continue

        def cell(name: str, cells: list[str] = line.cells) -> str:
            index = columns.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        name = cell("name")
        row = _Row(line.number, name, normalize_id_number(cell("id_number")), normalize_phone(cell("phone")), cell("photo"), RowReport(line.number, name, titles))
        row.id_number_numeric = columns["id_number"] in line.numeric
        rows.append(row)
    if not rows and not undecodable:
        raise errors.RosterUnreadable(details={"reason": "no rows"})
    return rows, undecodable


async def import_roster(
    db: AsyncSession,
    *,
    exam: Exam,
    data: bytes,
    photos: dict[str, bytes | None] | None,
    store: ObjectStore,
    secret_key: str,
    dry_run: bool,
    now: datetime,
    actor: Actor,
    steps: Callable[[str, int, int], None] | None = None,
) -> ImportResult:
    """`steps(what, done, total)` hears how far the check and the import are (the CLI's progress bars)."""
    steps = steps or (lambda what, done, total: None)
    rows, reports = parse_rows(data)
    photos = photos or {}
    existing = (await db.execute(select(Candidate.id_number_hash, Candidate.phone).where(Candidate.exam_id == exam.id))).all()
    known_ids = {r.id_number_hash for r in existing}
    known_phones = {r.phone for r in existing}
    seen_ids: set[str] = set()
    seen_phones: set[str] = set()
    for done, row in enumerate(rows, start=1):
        steps(CHECKING, done, len(rows))
        report = row.report
        if not row.name:
            report.reject("missing_name")
        elif len(row.name) > 100:
            report.reject("name_too_long")
        elif any(c in row.name for c in "\r\n"):
            report.reject("name_has_line_break")
        if row.id_number_numeric:
            report.reject("id_number_not_text")
        elif not valid_id_number(row.id_number):
            report.reject("invalid_id_number")
        else:
            digest = id_number_digest(secret_key, row.id_number)
            if digest in known_ids:
                report.reject("id_number_on_roster")
            elif digest in seen_ids:
                report.reject("duplicate_id_number")
            seen_ids.add(digest)
        if not valid_phone(row.phone):
            report.reject("invalid_phone")
        elif row.phone in known_phones:
            report.reject("phone_on_roster")
        elif row.phone in seen_phones:
            report.reject("duplicate_phone")
        seen_phones.add(row.phone)
        if row.photo:
            name = PurePosixPath(row.photo).name
            _check_photo(report, present=name in photos, data=photos.get(name))
        reports.append(report)
    rejected = sorted((r for r in reports if r.errors), key=lambda r: r.row)
    if rejected:
        raise errors.RosterRejected(
            details={"rows": len(reports), "rejected": [{"row": r.row, "name": r.name, "errors": r.errors} for r in rejected]}
        )
    if dry_run:
        return ImportResult(dry_run=True, rows=len(rows), imported=[])
    imported = []
    for done, row in enumerate(rows, start=1):
        steps(IMPORTING, done, len(rows))
        code = new_access_code()
        candidate = Candidate(
            exam_id=exam.id,
            name=row.name,
            id_number_hash=id_number_digest(secret_key, row.id_number),
            id_number_masked=mask_id_number(row.id_number),
            phone=row.phone,
            access_code_hash=access_code_digest(secret_key, code),
            created_at=now,
        )
        db.add(candidate)
        await db.flush()
        if row.photo:
            data = photos[PurePosixPath(row.photo).name]
            assert data is not None  # checked above
            candidate.photo_key = f"id-photos/{exam.id}/{candidate.id}"
            await store.put(candidate.photo_key, data, content_type=sniff_image(data))
        imported.append(Imported(row.line, candidate.id, row.name, candidate.id_number_masked, row.phone, code))
    record(db, at=now, actor=actor, action="roster.import", target_kind="exam", target_id=exam.id, details={"rows": len(rows)})
    return ImportResult(dry_run=False, rows=len(rows), imported=imported)


def _check_photo(report: RowReport, *, present: bool, data: bytes | None) -> None:
    if not present:
        report.reject("photo_missing")
    elif data is None:
        report.reject("photo_too_large")
    else:
        try:
            sniff_image(data)
            # Judged now, on the header, by the budget its enrolment will decode it with: an ID photo the engine
            # would refuse must not wait for the candidate's first selfie to be found out.
            open_image(data, ID_PHOTO)
        except ImageTooLarge:
            report.reject("photo_dimensions_too_large")
        except (errors.DualcamError, FaceInputError):
            report.reject("photo_not_image")


async def reissue_access_code(
    db: AsyncSession, *, candidate: Candidate, secret_key: str, now: datetime, actor: Actor
) -> str:
    """A forgotten password: ops issue a fresh code, which replaces the password until the candidate sets a new one.
    The candidate's log-ins end (its phones keep recording)."""
    code = new_access_code()
    candidate.access_code_hash = access_code_digest(secret_key, code)
    candidate.password_hash = None
    await auth.revoke_candidate_tokens(db, candidate_id=candidate.id, now=now)
    record(db, at=now, actor=actor, action="candidate.access_code.reissue", target_kind="candidate", target_id=candidate.id)
    return code
