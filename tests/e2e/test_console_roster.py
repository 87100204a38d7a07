"""Ops import an exam's roster in the console: a file with a bad row is refused whole with the row and why; the good
file checks, then imports, and the access codes shown once are downloaded as CSV and log the candidates in; the
roster lists them (one without a photo); a new access code replaces a lost one."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.console import log_in, shoot, staff_account
from tests.e2e.support import FACES, E2EServer, Ops
from tests.support.api import id_number, phone

HEADER = "姓名,身份证号,手机号,照片\r\n"


def roster_csv(*rows: tuple[str, str, str, str]) -> bytes:
    return (HEADER + "".join(",".join(r) + "\r\n" for r in rows)).encode("utf-8")


def log_in_candidate(server: E2EServer, number: str, code: str) -> int:
    return httpx.post(f"{server.url}/api/v1/auth/candidate/login", json={"identifier": number, "secret": code}, timeout=20).status_code


def test_ops_import_a_roster_hand_out_the_codes_and_reissue_one(server: E2EServer, ops: Ops, desk: Callable[[], Any], tmp_path: Any) -> None:
    exam = ops.exam(title="2026年某市事业单位公开招聘面试（名单导入）")
    people = [("王一", id_number(91001), phone(91001), "王一.jpg"), ("赵二", id_number(91002), phone(91002), "")]
    photos = io.BytesIO()
    with zipfile.ZipFile(photos, "w") as archive:
        archive.writestr("王一.jpg", (FACES / "person_b_1.jpg").read_bytes())

    page = desk()
    page.errors_expected.append("422")  # the refused file, on purpose
    log_in(page, server, staff_account(server, "ops"))
    page.locator(f"[data-test=exam][data-exam-id='{exam['id']}'] [data-action=roster]").click()
    expect(page.locator("[data-test=roster-total]")).to_contain_text("共 0 人")
    form = page.locator("[data-test=roster-form]")

    # One row repeats another's phone: nothing is imported, and the page says which row and why.
    bad = roster_csv(people[0], (people[1][0], people[1][1], people[0][2], ""))
    form.locator("[name=roster]").set_input_files({"name": "名单.csv", "mimeType": "text/csv", "buffer": bad})
    form.locator("[name=photos]").set_input_files({"name": "照片.zip", "mimeType": "application/zip", "buffer": photos.getvalue()})
    form.locator("[data-action=import-roster]").click()
    rejected = page.locator("[data-test=roster-rejected]")
    expect(rejected).to_contain_text("2 行中有 1 行不合格")
    expect(rejected.locator("li[data-row='3']")).to_have_text("第 3 行 赵二：手机号与名单中其他行重复（手机号）")
    assert ops.http.call("GET", f"/api/v1/ops/exams/{exam['id']}/candidates")["total"] == 0

    good = roster_csv(*people)
    form = page.locator("[data-test=roster-form]")
    form.locator("[name=roster]").set_input_files({"name": "名单.csv", "mimeType": "text/csv", "buffer": good})
    form.locator("[name=photos]").set_input_files({"name": "照片.zip", "mimeType": "application/zip", "buffer": photos.getvalue()})
    form.locator("[data-action=check-roster]").click()
    expect(page.locator("[data-test=roster-checked]")).to_contain_text("2 行均可导入")
    assert ops.http.call("GET", f"/api/v1/ops/exams/{exam['id']}/candidates")["total"] == 0

    form = page.locator("[data-test=roster-form]")
    form.locator("[name=roster]").set_input_files({"name": "名单.csv", "mimeType": "text/csv", "buffer": good})
    form.locator("[name=photos]").set_input_files({"name": "照片.zip", "mimeType": "application/zip", "buffer": photos.getvalue()})
    form.locator("[data-action=import-roster]").click()
    imported = page.locator("[data-test=roster-imported]")
    expect(imported).to_contain_text("已导入 2 名考生")
    expect(imported.locator("[data-test=issued-codes] tbody tr")).to_have_count(2)
    expect(page.locator("[data-test=roster-total]")).to_contain_text("共 2 人")
    expect(page.locator("[data-test=candidate]")).to_have_count(2)
    expect(page.locator("[data-test=candidate]", has_text="赵二")).to_contain_text("无照片")
    shoot(page, "roster")

    with page.expect_download() as download:
        imported.locator("[data-action=download-codes]").click()
    assert download.value.suggested_filename == f"access-codes-{exam['id']}.csv"
    data = download.value.path().read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["姓名", "身份证号(掩码)", "手机号", "登录码"]
    codes = {r[0]: r[3] for r in rows[1:]}
    assert sorted(codes) == ["王一", "赵二"]
    for name, number, *_ in people:
        assert log_in_candidate(server, number, codes[name]) == 200, name

    # 赵二 lost the code: a new one, shown once; the old one no longer logs in.
    page.locator("[data-test=candidate]", has_text="赵二").locator("[data-action=reissue]").click()
    page.locator(".modal [data-action=confirm]").click()
    reissued = page.locator("[data-test=reissued]")
    expect(reissued).to_contain_text("赵二 的新登录码")
    new_code = reissued.locator(".code").inner_text().strip()
    assert new_code and new_code != codes["赵二"]
    assert log_in_candidate(server, people[1][1], codes["赵二"]) == 401
    assert log_in_candidate(server, people[1][1], new_code) == 200
