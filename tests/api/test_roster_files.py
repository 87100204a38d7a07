"""Roster files through HTTP: an XLSX workbook imports like a CSV (openpyxl, read-only), an ID number Excel stored as
a number is refused with its row and column (digits past the 15th are already lost), and a quoted CSV cell that holds
a line break stays one row, numbered by the line it starts on. All or nothing, as for any roster."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook

from tests.api.test_roster import ZH_HEADER, exam_id, ops, post_roster, roster_of  # noqa: F401  (the fixtures)
from tests.support.api import Api, id_number, phone

pytestmark = pytest.mark.anyio


def workbook(*rows: tuple[Any, ...], header: tuple[str, ...] = ("姓名", "身份证号", "手机号")) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def test_an_xlsx_roster_imports_with_text_ids_and_phones_stored_as_numbers(api: Api, ops: str, exam_id: str) -> None:
    data = workbook(
        ("张三", id_number(1), int(phone(1))),  # a phone typed into a plain cell: a number, whole
        ("李四", id_number(2), phone(2)),
        (None, None, None),  # an empty row in the middle of the sheet
        ("王小明", id_number(3).lower(), float(phone(3))),
    )
    response = await post_roster(api, ops, exam_id, data)
    assert response.status_code == 201, response.text
    body = response.json()
    assert [(i["row"], i["name"]) for i in body["imported"]] == [(2, "张三"), (3, "李四"), (5, "王小明")]
    assert sorted((c["name"], c["phone"]) for c in await roster_of(api, ops, exam_id)) == sorted(
        [("张三", phone(1)), ("李四", phone(2)), ("王小明", phone(3))]
    )


async def test_an_id_number_excel_stored_as_a_number_is_refused_with_its_row_and_column(api: Api, ops: str, exam_id: str) -> None:
    number = int(next(id_number(k) for k in range(2, 50) if id_number(k)[-1] != "X"))  # a valid one, all digits
    data = workbook(("张三", id_number(1), phone(1)), ("李四", number, phone(2)), ("王五", float(number), phone(3)))
    response = await post_roster(api, ops, exam_id, data)
    assert response.status_code == 422, response.text
    rejected = response.json()["error"]["details"]["rejected"]
    assert [(r["row"], r["name"], [(e["code"], e["column"]) for e in r["errors"]]) for r in rejected] == [
        (3, "李四", [("id_number_not_text", "身份证号")]),
        (4, "王五", [("id_number_not_text", "身份证号")]),
    ]
    assert "文本" in rejected[0]["errors"][0]["message"] and "text" in rejected[0]["errors"][0]["message_en"]
    assert await roster_of(api, ops, exam_id) == []  # the good row neither


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"PK\x03\x04" + b"\x00" * 64, id="a zip header and nothing"),
        pytest.param(workbook(header=("姓名", "手机号")), id="no ID column"),
        pytest.param(workbook(), id="header only"),
    ],
)
async def test_an_unreadable_workbook_is_refused_whole(api: Api, ops: str, exam_id: str, data: bytes) -> None:
    response = await post_roster(api, ops, exam_id, data)
    assert response.status_code == 422 and response.json()["error"]["code"] == "roster_unreadable", response.text
    assert await roster_of(api, ops, exam_id) == []


async def test_a_quoted_cell_with_a_line_break_stays_one_row(api: Api, ops: str, exam_id: str) -> None:
    lines = [
        ZH_HEADER,
        f'"张\n三",{id_number(1)},{phone(1)},',  # lines 2–3: a name typed with Alt+Enter in Excel
        f"李四,{id_number(2)},{phone(2)},",  # line 4
        f'王五,{id_number(3)},{phone(3)},"照\r\n片.jpg"',  # lines 5–6, CRLF inside the quotes
    ]
    response = await post_roster(api, ops, exam_id, ("\n".join(lines) + "\n").encode())
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"]["rows"] == 3
    assert [(r["row"], [(e["code"], e["column"]) for e in r["errors"]]) for r in error["details"]["rejected"]] == [
        (2, [("name_has_line_break", "姓名")]),
        (5, [("photo_missing", "照片")]),
    ]
    fixed = [ZH_HEADER, f'"张三",{id_number(1)},{phone(1)},', f'李四,{id_number(2)},"{phone(2)}",']
    imported = await post_roster(api, ops, exam_id, ("\r\n".join(fixed) + "\r\n").encode())
    assert imported.status_code == 201, imported.text
    assert [(i["row"], i["name"]) for i in imported.json()["imported"]] == [(2, "张三"), (3, "李四")]


async def test_an_unclosed_quote_is_refused_whole(api: Api, ops: str, exam_id: str) -> None:
    data = f'{ZH_HEADER}\n"张三,{id_number(1)},{phone(1)},\n李四,{id_number(2)},{phone(2)},\n'.encode()
    response = await post_roster(api, ops, exam_id, data)
    # The csv module reads the rest of the file into the open quote: one row, with a name nobody has.
    assert response.status_code == 422, response.text
    assert await roster_of(api, ops, exam_id) == []
