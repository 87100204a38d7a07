"""Roster import: encodings, the per-row report of rejected rows (all or nothing), photos from a zip, dry runs."""

from __future__ import annotations

import functools
import io
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from app.models import StaffRole
from app.services.exam.photo_archive import MAX_ENTRIES
from app.services.images import MAX_IMAGE_BYTES
from tests.support.api import Api, id_number, phone
from tests.support.face import large_png

pytestmark = pytest.mark.anyio

ZH_HEADER = "姓名,身份证号,手机号,照片"
EN_HEADER = "name,id_number,phone,photo"


def jpeg(color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buffer, "JPEG")
    return buffer.getvalue()


def csv_bytes(rows: list[tuple[str, ...]], header: str = ZH_HEADER, encoding: str = "utf-8", newline: str = "\n") -> bytes:
    return newline.join([header, *(",".join(r) for r in rows), ""]).encode(encoding)


class RawNameInfo(zipfile.ZipInfo):
    """A zip entry whose name is written as the given bytes, without the UTF-8 flag (as zip tools on
    Chinese Windows write GBK names, and some others UTF-8 names)."""

    def __init__(self, raw: bytes) -> None:
        super().__init__(raw.decode("cp437"))
        self.raw = raw

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.raw, self.flag_bits & ~0x800


def zip_bytes(entries: dict[str, bytes], names: str = "utf-8-flag") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            if names == "utf-8-flag":  # zipfile sets the flag itself for non-ASCII names
                archive.writestr(name, data)
            else:
                archive.writestr(RawNameInfo(name.encode(names)), data)
    return buffer.getvalue()


async def post_roster(
    api: Api, ops: str, exam_id: str, csv_data: bytes, photos: bytes | None = None, dry_run: bool = False
) -> httpx.Response:
    files: dict[str, Any] = {"csv_file": ("名单.csv", csv_data, "text/csv")}
    if photos is not None:
        files["photos"] = ("照片.zip", photos, "application/zip")
    params = {"dry_run": "true"} if dry_run else {}
    return await api.request("POST", f"/api/v1/ops/exams/{exam_id}/roster", ops, files=files, params=params)


async def roster_of(api: Api, ops: str, exam_id: str) -> list[dict[str, Any]]:
    page = await api.ok("GET", f"/api/v1/ops/exams/{exam_id}/candidates", ops, params={"limit": 500})
    assert page["total"] == len(page["items"])
    return sorted(page["items"], key=lambda c: c["phone"])


def stored_objects(api: Api) -> list[Path]:
    root = Path(api.app.state.settings.data_dir) / "objects"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
async def ops(api: Api) -> str:
    return await api.staff()


@pytest.fixture
async def exam_id(api: Api, ops: str) -> str:
    return (await api.exam(ops))["id"]


# --- encodings -----------------------------------------------------------------------------------------

NAMES = ("张三", "欧阳修", "王小明")


@pytest.mark.parametrize(
    ("encoding", "header", "newline"),
    [
        pytest.param("utf-8", ZH_HEADER, "\n", id="utf8"),
        pytest.param("utf-8-sig", ZH_HEADER, "\n", id="utf8-bom"),  # as Excel's "CSV UTF-8" writes it
        pytest.param("gbk", ZH_HEADER, "\r\n", id="gbk-crlf"),  # Excel's plain "CSV" on Chinese Windows
        pytest.param("utf-8", EN_HEADER, "\n", id="utf8-english-header"),
        pytest.param("gbk", EN_HEADER, "\r\n", id="gbk-english-header"),
    ],
)
async def test_utf8_bom_and_gbk_files_import_and_names_round_trip(
    api: Api, ops: str, exam_id: str, encoding: str, header: str, newline: str
) -> None:
    rows = [(name, id_number(seq), phone(seq), "") for seq, name in enumerate(NAMES, start=1)]
    rows[2] = (rows[2][0], id_number(3).lower(), "+86 139-0000-0003", "")  # normalised on import
    response = await post_roster(api, ops, exam_id, csv_bytes(rows, header, encoding, newline))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["dry_run"] is False and body["rows"] == 3
    assert [(i["row"], i["name"], i["phone"]) for i in body["imported"]] == [
        (2, "张三", phone(1)), (3, "欧阳修", phone(2)), (4, "王小明", phone(3))
    ]
    assert all(len(i["access_code"]) == 8 for i in body["imported"])
    listed = await roster_of(api, ops, exam_id)
    assert [(c["name"], c["phone"], c["has_photo"]) for c in listed] == [
        ("张三", phone(1), False), ("欧阳修", phone(2), False), ("王小明", phone(3), False)
    ]
    assert listed[2]["id_number_masked"] == "3701**********" + id_number(3)[-4:]


async def test_issued_access_codes_log_in_by_id_number_and_by_phone(api: Api, ops: str, exam_id: str) -> None:
    rows = [(name, id_number(seq), phone(seq), "") for seq, name in enumerate(NAMES, start=1)]
    body = (await post_roster(api, ops, exam_id, csv_bytes(rows))).json()
    for seq, issued in enumerate(body["imported"], start=1):
        for identifier in (id_number(seq), phone(seq)):
            login = await api.ok("POST", "/api/v1/auth/candidate/login", json={"identifier": identifier, "secret": issued["access_code"]})
            me = await api.ok("GET", "/api/v1/candidate/me", login["token"])
            assert (me["id"], me["name"]) == (issued["candidate_id"], issued["name"])


# --- rejected rows: all or nothing ---------------------------------------------------------------------


async def test_bad_rows_are_all_reported_by_line_and_nothing_is_imported(api: Api, ops: str, exam_id: str) -> None:
    await api.roster(ops, exam_id, [("老考生", id_number(1), phone(1))])
    bad_check_digit = id_number(11)[:-1] + ("0" if id_number(11)[-1] != "0" else "1")
    lines = [
        ZH_HEADER.encode(),
        f"张三,{id_number(10)},{phone(10)},张三.jpg".encode(),  # 2: fine on its own
        f"李四,{bad_check_digit},{phone(11)},".encode(),  # 3
        f"王五,{id_number(12)},1234,".encode(),  # 4
        f",{id_number(13)},{phone(13)},".encode(),  # 5
        b"",  # 6: blank lines are skipped but still counted
        f"赵六,{id_number(10)},{phone(14)},".encode(),  # 7: ID number of line 2
        f"孙七,{id_number(15)},{phone(10)},".encode(),  # 8: phone of line 2
        f"周八,{id_number(1)},{phone(16)},".encode(),  # 9: already on the roster
        f"钱九,{id_number(20)},{phone(1)},".encode(),  # 10: phone already on the roster
        f"吴九,{id_number(17)},{phone(17)},吴九.jpg".encode(),  # 11: not in the zip
        f"郑十,{id_number(18)},{phone(18)},郑十.jpg".encode(),  # 12: not an image
        f"Müller,{id_number(19)},{phone(19)},".encode("latin-1"),  # 13: neither UTF-8 nor GBK
        b",12345,abc,",  # 14: several errors in one row
    ]
    photos = zip_bytes({"张三.jpg": jpeg(), "郑十.jpg": b"GIF89a not a photo we take"})
    before = await roster_of(api, ops, exam_id)

    for dry_run in (False, True):
        response = await post_roster(api, ops, exam_id, b"\n".join(lines) + b"\n", photos, dry_run=dry_run)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "roster_rejected" and error["message"] and error["message_en"]
        report = {r["row"]: [e["code"] for e in r["errors"]] for r in error["details"]["rejected"]}
        assert report == {
            3: ["invalid_id_number"],
            4: ["invalid_phone"],
            5: ["missing_name"],
            7: ["duplicate_id_number"],
            8: ["duplicate_phone"],
            9: ["id_number_on_roster"],
            10: ["phone_on_roster"],
            11: ["photo_missing"],
            12: ["photo_not_image"],
            13: ["bad_encoding"],
            14: ["missing_name", "invalid_id_number", "invalid_phone"],
        }
        assert error["details"]["rows"] == 12
        assert [r["name"] for r in error["details"]["rejected"]][:2] == ["李四", "王五"]
        for row in error["details"]["rejected"]:
            for item in row["errors"]:
                # The column as the file titles it, for every error but an unreadable line's.
                assert set(item) == ({"code", "message", "message_en"} | ({"column"} if item["code"] != "bad_encoding" else set()))
                assert any("\u4e00" <= ch <= "\u9fff" for ch in item["message"]) and item["message_en"].isascii()
        columns = {r["row"]: [e.get("column") for e in r["errors"]] for r in error["details"]["rejected"]}
        assert columns[3] == ["身份证号"] and columns[4] == ["手机号"] and columns[11] == ["照片"] and columns[13] == [None]
        assert columns[14] == ["姓名", "身份证号", "手机号"]

    assert await roster_of(api, ops, exam_id) == before
    assert stored_objects(api) == []


@pytest.mark.parametrize(
    ("encoding", "stray"),
    [
        pytest.param("utf-8", "李四".encode("gbk"), id="gbk-line-in-utf8"),
        pytest.param("utf-8", "José".encode("latin-1"), id="latin1-line-in-utf8"),
        pytest.param("gbk", b"\xff\xfeA\x00", id="utf16-bytes-in-gbk"),
    ],
)
async def test_a_line_in_another_encoding_is_a_row_error(api: Api, ops: str, exam_id: str, encoding: str, stray: bytes) -> None:
    head = csv_bytes([("张三", id_number(1), phone(1), ""), ("王五", id_number(3), phone(3), "")], encoding=encoding)
    data = head + stray + f",{id_number(2)},{phone(2)},\n".encode()
    response = await post_roster(api, ops, exam_id, data)
    assert response.status_code == 422
    rejected = response.json()["error"]["details"]["rejected"]
    assert [(r["row"], [e["code"] for e in r["errors"]]) for r in rejected] == [(4, ["bad_encoding"])]
    assert await roster_of(api, ops, exam_id) == []


async def test_reimporting_the_same_file_rejects_every_row(api: Api, ops: str, exam_id: str) -> None:
    data = csv_bytes([(name, id_number(seq), phone(seq), "") for seq, name in enumerate(NAMES, start=1)])
    assert (await post_roster(api, ops, exam_id, data)).status_code == 201
    response = await post_roster(api, ops, exam_id, data)
    assert response.status_code == 422
    rejected = response.json()["error"]["details"]["rejected"]
    assert [(r["row"], [e["code"] for e in r["errors"]]) for r in rejected] == [
        (row, ["id_number_on_roster", "phone_on_roster"]) for row in (2, 3, 4)
    ]
    assert len(await roster_of(api, ops, exam_id)) == 3


async def test_the_same_person_may_be_on_the_roster_of_another_exam(api: Api, ops: str, exam_id: str) -> None:
    data = csv_bytes([("张三", id_number(1), phone(1), "")])
    other = (await api.exam(ops, title="另一场考试"))["id"]
    assert (await post_roster(api, ops, exam_id, data)).status_code == 201
    assert (await post_roster(api, ops, other, data)).status_code == 201


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("no ID column", "姓名,手机号\n张三,13900000001\n".encode()),
        ("not a CSV header", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("UTF-16", f"{ZH_HEADER}\n张三,{id_number(1)},{phone(1)},\n".encode("utf-16")),
        ("header only", f"{ZH_HEADER}\n".encode()),
        ("empty", b""),
    ],
)
async def test_unreadable_files_are_refused_whole(api: Api, ops: str, exam_id: str, case: str, data: bytes) -> None:
    response = await post_roster(api, ops, exam_id, data)
    assert response.status_code == 422, case
    assert response.json()["error"]["code"] == "roster_unreadable"
    assert await roster_of(api, ops, exam_id) == []


async def test_dry_run_checks_and_imports_nothing(api: Api, ops: str, exam_id: str) -> None:
    data = csv_bytes([("张三", id_number(1), phone(1), "张三.jpg"), ("李四", id_number(2), phone(2), "")])
    body = (await post_roster(api, ops, exam_id, data, zip_bytes({"张三.jpg": jpeg()}), dry_run=True)).json()
    assert body == {"dry_run": True, "rows": 2, "imported": []}
    assert await roster_of(api, ops, exam_id) == []
    assert stored_objects(api) == []
    # The same file then imports for real.
    assert (await post_roster(api, ops, exam_id, data, zip_bytes({"张三.jpg": jpeg()}))).status_code == 201


# --- photos ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "folder"),
    [
        ("utf-8-flag", ""),
        ("gbk", ""),  # Chinese Windows: GBK bytes, no UTF-8 flag
        ("gbk", "照片/"),
        ("utf-8", ""),  # UTF-8 bytes without the flag (macOS Archive Utility, old Info-ZIP)
    ],
)
async def test_photos_from_a_zip_are_stored_and_shown(api: Api, ops: str, exam_id: str, names: str, folder: str) -> None:
    photo = jpeg("blue")
    data = csv_bytes([("张三", id_number(1), phone(1), "张三.jpg"), ("李四", id_number(2), phone(2), "")], encoding="gbk")
    response = await post_roster(api, ops, exam_id, data, zip_bytes({f"{folder}张三.jpg": photo, "说明.txt": b"x"}, names))
    assert response.status_code == 201, response.text
    listed = await roster_of(api, ops, exam_id)
    assert [(c["name"], c["has_photo"]) for c in listed] == [("张三", True), ("李四", False)]
    assert [p.read_bytes() for p in stored_objects(api)] == [photo]


async def test_photos_are_held_to_the_id_photo_budget_at_import(api: Api, ops: str, exam_id: str) -> None:
    """Judged on the header now, by the budget its enrolment decodes it with: not at the candidate's first selfie."""
    big_jpeg = io.BytesIO()
    Image.new("RGB", (8000, 5000), "white").save(big_jpeg, "JPEG")  # decoded at 1/2 when enrolled
    rows = [("张三", id_number(1), phone(1), "大图.png"), ("李四", id_number(2), phone(2), "大图.jpg")]
    photos = zip_bytes({"大图.png": large_png(8000, 5000), "大图.jpg": big_jpeg.getvalue()})
    response = await post_roster(api, ops, exam_id, csv_bytes(rows), photos)
    assert response.status_code == 422
    (rejected,) = response.json()["error"]["details"]["rejected"]
    assert rejected["row"] == 2 and [e["code"] for e in rejected["errors"]] == ["photo_dimensions_too_large"]
    assert "4000" in rejected["errors"][0]["message"] and "4000 px" in rejected["errors"][0]["message_en"]
    assert await roster_of(api, ops, exam_id) == [] and stored_objects(api) == []


async def test_photos_that_are_not_a_zip_are_refused(api: Api, ops: str, exam_id: str) -> None:
    data = csv_bytes([("张三", id_number(1), phone(1), "张三.jpg")])
    response = await post_roster(api, ops, exam_id, data, photos=jpeg())
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "photo_archive_unreadable"
    assert await roster_of(api, ops, exam_id) == []


# --- bounds on the photo archive ------------------------------------------------------------------------


@functools.cache
def zip_bomb() -> bytes:
    """49 entries of 10 MB of zeros, each exactly the image limit: about 500 KB on disk, 490 MB inflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(49):
            archive.writestr(f"{n}.jpg", bytes(MAX_IMAGE_BYTES))
    return buffer.getvalue()


def lying_zip(entries: int = 20, declared: int = 1024) -> bytes:
    """Entries that inflate to 10 MB each while the headers (local and central) say `declared` bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(entries):
            archive.writestr(f"{n}.jpg", bytes(MAX_IMAGE_BYTES))
    data = bytearray(buffer.getvalue())
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size in each header
        at = data.find(signature)
        while at >= 0:
            data[at + size_at : at + size_at + 4] = declared.to_bytes(4, "little")
            at = data.find(signature, at + 4)
    return bytes(data)


async def peak_memory_of(call: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = await call
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_a_zip_bomb_is_refused_from_its_directory_before_anything_is_inflated(api: Api, ops: str, exam_id: str) -> None:
    bomb = zip_bomb()
    assert len(bomb) < 1024 * 1024
    data = csv_bytes([("张三", id_number(1), phone(1), "0.jpg")])
    response, peak = await peak_memory_of(post_roster(api, ops, exam_id, data, bomb))
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "photo_archive_too_large"
    assert error["details"]["reason"] == "expanded_bytes" and error["details"]["found"] == 49 * MAX_IMAGE_BYTES
    assert error["details"]["limit"] == 2 * len(bomb) + 10 * 1024 * 1024
    assert peak < 32 * 1024 * 1024, f"{peak / 2**20:.0f} MiB"
    assert await roster_of(api, ops, exam_id) == []
    assert stored_objects(api) == []


async def test_an_entry_that_inflates_past_its_header_is_refused_and_never_read_whole(api: Api, ops: str, exam_id: str) -> None:
    archive = lying_zip()
    data = csv_bytes([("张三", id_number(1), phone(1), "0.jpg")])
    response, peak = await peak_memory_of(post_roster(api, ops, exam_id, data, archive))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "photo_archive_unreadable"
    assert peak < 32 * 1024 * 1024, f"{peak / 2**20:.0f} MiB"
    assert await roster_of(api, ops, exam_id) == []


async def test_an_archive_of_more_entries_than_two_per_row_is_refused(api: Api, ops: str, exam_id: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for n in range(MAX_ENTRIES + 1):
            archive.writestr(str(n), b"")
    data = csv_bytes([("张三", id_number(1), phone(1), "")])
    response = await post_roster(api, ops, exam_id, data, buffer.getvalue())
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["reason"], error["details"]["limit"]) == ("photo_archive_too_large", "entries", 100_000)
    assert await roster_of(api, ops, exam_id) == []


async def test_a_photo_over_the_image_limit_is_a_row_error_and_is_never_inflated(api: Api, ops: str, exam_id: str) -> None:
    big = jpeg() + bytes(MAX_IMAGE_BYTES)  # refused by the size its header states, before a byte of it is read
    data = csv_bytes([("张三", id_number(1), phone(1), "张三.jpg"), ("李四", id_number(2), phone(2), "李四.jpg")])
    response = await post_roster(api, ops, exam_id, data, zip_bytes({"张三.jpg": big, "李四.jpg": jpeg()}))
    assert response.status_code == 422, response.text
    rejected = response.json()["error"]["details"]["rejected"]
    assert [(r["row"], [e["code"] for e in r["errors"]]) for r in rejected] == [(2, ["photo_too_large"])]
    assert await roster_of(api, ops, exam_id) == []


# --- who may import ------------------------------------------------------------------------------------


async def test_only_ops_import_and_the_exam_must_exist(api: Api, ops: str, exam_id: str) -> None:
    data = csv_bytes([("张三", id_number(1), phone(1), "")])
    _, candidate = await api.candidate(ops, exam_id, seq=9)
    reviewer = await api.staff(StaffRole.reviewer)
    for token, status, code in [(candidate, 403, "forbidden"), (reviewer, 403, "forbidden"), (None, 401, "not_authenticated")]:
        response = await post_roster(api, token, exam_id, data)  # type: ignore[arg-type]
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    response = await post_roster(api, ops, "00000000-0000-4000-8000-000000000000", data)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "exam_not_found")
    assert len(await roster_of(api, ops, exam_id)) == 1
