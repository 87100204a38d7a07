"""exam/roster: all or nothing — one rejected row imports nobody and every rejected row is reported with its line;
a dry run checks without importing; photos are checked before anything is stored; a reissued access code replaces
the password and ends the candidate's log-ins."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from app import errors
from app.models import Candidate, Exam, Role
from app.security import access_code_matches, id_number_digest
from app.services import auth
from app.services.exam import photo_archive, roster
from tests.services.conftest import OPS, Env
from tests.support.api import id_number, phone

pytestmark = pytest.mark.anyio

HEADER = "姓名,身份证号,手机号,照片\n"
def _png() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (40, 50), (200, 180, 160)).save(picture, format="PNG")
    return picture.getvalue()


PNG = _png()  # a real picture: photos are judged by their header at import


def rows(*lines: tuple[str, str, str, str] | tuple[str, str, str]) -> bytes:
    return (HEADER + "".join(",".join(line) + "\n" for line in lines)).encode()


async def load(env: Env, exam: Exam, data: bytes, *, photos: dict[str, bytes | None] | None = None, dry_run: bool = False) -> roster.ImportResult:
    async with env.tx() as db:
        return await roster.import_roster(
            db, exam=exam, data=data, photos=photos, store=env.app.state.store, secret_key=env.settings.secret_key, dry_run=dry_run, now=env.now(), actor=OPS
        )


async def count(env: Env, exam: Exam) -> int:
    async with env.tx() as db:
        return await db.scalar(select(func.count()).select_from(Candidate).where(Candidate.exam_id == exam.id)) or 0


async def rejected(env: Env, exam: Exam, data: bytes, **kwargs: Any) -> dict[int, list[str]]:
    before = await count(env, exam)
    with pytest.raises(errors.RosterRejected) as refused:
        await load(env, exam, data, **kwargs)
    assert await count(env, exam) == before
    return {r["row"]: [e["code"] for e in r["errors"]] for r in refused.value.details["rejected"]}


async def test_a_clean_roster_imports_everyone_with_an_access_code(env: Env) -> None:
    exam = await env.exam()
    result = await load(env, exam, rows(("张三", id_number(1), phone(1), ""), (" 李四 ", id_number(2).lower(), "+86 139-0000-0002", "")))
    assert (result.dry_run, result.rows, [i.row for i in result.imported], [i.name for i in result.imported]) == (False, 2, [2, 3], ["张三", "李四"])
    second = await env.row(Candidate, result.imported[1].candidate_id)
    assert (second.phone, second.id_number_hash) == ("13900000002", id_number_digest(env.settings.secret_key, id_number(2)))
    assert access_code_matches(env.settings.secret_key, result.imported[1].access_code, second.access_code_hash)
    assert second.password_hash is None
    (entry,) = await env.audit("roster.import")
    assert entry.details == {"rows": 2}


async def test_one_bad_row_imports_nobody_and_every_bad_row_is_reported(env: Env) -> None:
    exam = await env.exam()
    await load(env, exam, rows(("已在名单", id_number(9), phone(9), "")))
    data = rows(
        ("张三", id_number(1), phone(1), ""),  # fine
        ("", id_number(2), phone(2), ""),
        ("李四", "370102199001011234", "12345", ""),
        ("王五", id_number(1), phone(1), ""),  # repeats line 2
        ("赵六", id_number(9), phone(9), ""),  # already on the roster
        ("钱七", id_number(7), phone(7), "missing.png"),
        ("孙八", id_number(8), phone(8), "notes.txt"),
        ("周九", id_number(10), phone(10), "huge.jpg"),
        ("长" * 101, id_number(11), phone(11), ""),
    )
    photos = {"notes.txt": b"not a picture", "huge.jpg": None}
    assert await rejected(env, exam, data, photos=photos) == {
        3: ["missing_name"],
        4: ["invalid_id_number", "invalid_phone"],
        5: ["duplicate_id_number", "duplicate_phone"],
        6: ["id_number_on_roster", "phone_on_roster"],
        7: ["photo_missing"],
        8: ["photo_not_image"],
        9: ["photo_too_large"],
        10: ["name_too_long"],
    }
    assert len(await env.audit("roster.import")) == 1


async def test_the_same_person_may_be_on_another_exams_roster(env: Env) -> None:
    exam, other = await env.exam(), await env.exam(title="另一考试")
    data = rows(("张三", id_number(1), phone(1), ""))
    await load(env, exam, data)
    await load(env, other, data)
    assert (await count(env, exam), await count(env, other)) == (1, 1)


async def test_a_dry_run_checks_and_imports_nothing(env: Env) -> None:
    exam = await env.exam()
    result = await load(env, exam, rows(("张三", id_number(1), phone(1), "")), dry_run=True)
    assert (result.dry_run, result.rows, result.imported) == (True, 1, [])
    assert await count(env, exam) == 0
    assert await rejected(env, exam, rows(("", id_number(1), phone(1), "")), dry_run=True) == {2: ["missing_name"]}


async def test_photos_are_stored_under_the_candidate(env: Env) -> None:
    exam = await env.exam()
    result = await load(env, exam, rows(("张三", id_number(1), phone(1), "photos/张三.png")), photos={"张三.png": PNG})
    stored = await env.row(Candidate, result.imported[0].candidate_id)
    assert stored.photo_key == f"id-photos/{exam.id}/{stored.id}"
    assert await env.app.state.store.get(stored.photo_key) == PNG


HEADERS = [
    ("English", "name,id_number,phone\n", True),
    ("Chinese aliases", "姓名,证件号码,联系电话\n", True),
    ("UTF-8 BOM, spaced", "\ufeff 姓名 , 身份证号 ,手机号码\n", True),
    ("no phone column", "姓名,身份证号\n", False),
    ("no header at all", "", False),
]


@pytest.mark.parametrize(("label", "header", "readable"), HEADERS, ids=[h[0] for h in HEADERS])
async def test_the_header_names_the_columns(env: Env, label: str, header: str, readable: bool) -> None:
    exam = await env.exam()
    data = (header + f"张三,{id_number(1)},{phone(1)}\n").encode("utf-8")
    if readable:
        assert (await load(env, exam, data)).rows == 1
    else:
        with pytest.raises(errors.RosterUnreadable):
            await load(env, exam, data)


async def test_a_gbk_file_imports(env: Env) -> None:
    exam = await env.exam()
    result = await load(env, exam, f"姓名,身份证号,手机号\n欧阳娜娜,{id_number(1)},{phone(1)}\n".encode("gbk"))
    assert [i.name for i in result.imported] == ["欧阳娜娜"]


def test_a_header_without_rows_is_unreadable() -> None:
    with pytest.raises(errors.RosterUnreadable):
        roster.parse_rows(HEADER.encode())


def test_read_photo_archive() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("照片/张三.png", PNG)
        archive.writestr("照片/", b"")
    assert photo_archive.read_photo_archive(buffer.getvalue()) == {"张三.png": PNG}
    with pytest.raises(errors.PhotoArchiveUnreadable):
        photo_archive.read_photo_archive(b"not a zip")


async def test_reissuing_an_access_code_replaces_the_password_and_ends_log_ins(env: Env) -> None:
    exam = await env.exam()
    candidate = await env.candidate(exam)  # registered with a password
    async with env.tx() as db:
        issued = await auth.issue_token(db, role=Role.candidate, now=env.now(), ttl=env.ttl, candidate_id=candidate.id)
        mine = await db.get_one(Candidate, candidate.id)
        code = await roster.reissue_access_code(db, candidate=mine, secret_key=env.settings.secret_key, now=env.now(), actor=OPS)
    stored = await env.row(Candidate, candidate.id)
    assert stored.password_hash is None
    assert access_code_matches(env.settings.secret_key, code, stored.access_code_hash)
    async with env.tx() as db:
        assert await auth.authenticate(db, token=issued.token, now=env.now()) is None
