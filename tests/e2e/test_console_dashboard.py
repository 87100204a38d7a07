"""A session's live dashboard in the staff console: counts per state and a row per candidate that follow two real
phones in Chromium by themselves — paired and online, the face gate, the aux phone going away — within 2 s, through
the session's staff socket; search and the state filter; times in the exam's zone, labelled; the English switch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.e2e import flows
from tests.e2e.console import log_in, shoot, staff_account
from tests.e2e.support import E2EServer, Ops

LIVE = 2000  # ms: the dashboard follows a change by itself within 2 s


def test_the_dashboard_follows_the_phones_by_itself(server: E2EServer, ops: Ops, phone: Callable[..., Any], desk: Callable[[], Any]) -> None:
    exam, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=20, waiting_minutes=10)
    for n in range(2, 5):
        ops.candidate(exam["id"], name=f"李考生{n}").login().confirm()
    sitting_id = candidate.sitting(session["id"])["id"]
    reviewer = staff_account(server, "reviewer", exam["id"])

    page = desk()
    log_in(page, server, reviewer)
    page.locator(f"[data-test=session][data-session-id='{session['id']}'] [data-action=dashboard]").click()
    expect(page.locator("[data-test=live-state]")).to_have_attribute("data-live", "live")
    expect(page.locator("[data-test=count-waiting]")).to_have_attribute("data-count", "4")
    row = page.locator(f"[data-test=live-row][data-sitting-id='{sitting_id}']")
    expect(row.locator("[data-test=phone-main]")).to_have_attribute("data-presence", "absent")
    assert "北京时间" in page.locator("[data-test=server-clock]").inner_text()

    main, aux = phone(), phone()
    flows.to_ready(main, aux, server, candidate, session["id"])
    expect(row.locator("[data-test=phone-main]")).to_have_attribute("data-presence", "online", timeout=LIVE)
    expect(row.locator("[data-test=phone-aux]")).to_have_attribute("data-presence", "online", timeout=LIVE)
    expect(row).to_have_attribute("data-state", "ready", timeout=LIVE)
    expect(page.locator("[data-test=count-ready]")).to_have_attribute("data-count", "1", timeout=LIVE)
    expect(page.locator("[data-test=count-waiting]")).to_have_attribute("data-count", "3")
    assert "北京时间" in row.locator("[data-test=face]").inner_text()
    assert row.locator("[data-test=last-event]").inner_text().strip() != "—"
    shoot(page, "dashboard")

    # What a user is typing in the search box survives the live updates that arrive meanwhile.
    page.locator("[data-test=search]").fill("李考生3")
    aux.close()  # the aux phone goes away: its socket closes, the server marks it offline
    expect(row.locator("[data-test=phone-aux]")).to_have_attribute("data-presence", "offline", timeout=LIVE)
    expect(page.locator("[data-test=search]")).to_have_value("李考生3")
    expect(page.locator("[data-test=search]")).to_be_focused()
    page.locator("[data-test=search]").press("Enter")
    expect(page.locator("[data-test=live-row]")).to_have_count(1)
    assert "李考生3" in page.locator("[data-test=live-row]").inner_text()
    page.locator("[data-test=search]").fill("")
    page.locator("[data-test=search]").press("Enter")
    page.locator("[data-test=count-ready]").click()
    expect(page.locator("[data-test=live-row]")).to_have_count(1)
    expect(page.locator("[data-test=live-row]")).to_have_attribute("data-sitting-id", sitting_id)

    page.locator("[data-action=lang]").click()
    expect(page.locator("[data-test=live-state]")).to_have_text("● Live")
    assert "Beijing time" in page.locator("[data-test=server-clock]").inner_text()
    page.locator("[data-action=lang]").click()
    main.close()
