"""Every time the two phones show says which zone it is in — the exam's: "北京时间" for an exam in Asia/Shanghai (the
exam notice says all times are Beijing time), the zone's name for another ("Asia/Urumqi 时间"), in English too.

Each screen is walked in the page: every piece of text that looks like a time of day (09:10) must sit inside an
element the apps mark — `data-time` (a time, which must carry the zone's name) or `data-duration` (a countdown's
remaining time, a length) — so a time added without the zone fails here."""

from __future__ import annotations

import time

from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e import flows
from tests.e2e.recordings import require_uploads
from tests.e2e.support import E2EServer, Ops, js_json

# In the page: text that looks like a time of day outside a marked element, and marked times without the zone's name.
WALK = r"""(label) => {
  const TIME = /(?<![\d.:])\d{1,2}:\d{2}(?!\d)/;
  const problems = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (TIME.test(node.textContent) && !el.closest("[data-time], [data-duration]")) {
      problems.push(`a time without its zone in ${el.closest("[data-test]")?.dataset.test ?? el.tagName}: ${node.textContent}`);
    }
  }
  const times = [...document.querySelectorAll("[data-time]")].map((el) => el.textContent);
  for (const text of times) if (!text.includes(label)) problems.push(`not named "${label}": ${text}`);
  return { problems, times };
}"""


def times_named(page: Any, label: str, at_least: int = 1) -> list[str]:
    """The times on the screen now, each checked to carry `label`; at least `at_least` of them."""
    # A language switch repaints on the app's next frame: give the screen that long to settle before judging it.
    deadline = time.monotonic() + 5
    found = page.evaluate(WALK, label)
    while found["problems"] and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        found = page.evaluate(WALK, label)
    assert found["problems"] == [], "\n".join(found["problems"])
    assert len(found["times"]) >= at_least, found["times"]
    return found["times"]


def switch_language(page: Any, to: str) -> None:
    page.click("[data-action=lang]")
    page.wait_for_function(f"document.documentElement.lang === {js_json(to)}")


def test_every_time_on_both_phones_says_beijing_time(server: E2EServer, ops: Ops, phone) -> None:
    require_uploads(server)
    exam, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=8, ready_candidate=False)
    candidate.verify_identity()  # the face gate needs it; the confirmation is done in the app
    ops.notice(exam["id"], "考前须知", "两部手机全程连接充电器。", pinned=True)
    main, aux = phone(), phone()

    flows.login(main, server, candidate)
    home = times_named(main, "北京时间", at_least=3)  # the confirmation window, the notice, the support hours
    assert any("每天 08:00–20:00" in t for t in home), home
    main.click("[data-nav=confirm]")
    main.wait_for_selector("[data-test=rules]")
    times_named(main, "北京时间", at_least=2)  # the confirmation window
    main.check("input[name=accept]")
    main.click("[data-action=confirm]")
    main.wait_for_selector("[data-test=confirmed]")
    times_named(main, "北京时间", at_least=3)  # and when it was confirmed
    main.goto(f"{server.url}/main/#/sessions")
    main.wait_for_selector(f"[data-session='{session['id']}'] [data-countdown]")
    times_named(main, "北京时间", at_least=5)  # the four times and the instant the countdown counts to

    flows.open_sitting(main, server, session["id"])
    main.wait_for_selector("[data-test=qr-expires] time")
    times_named(main, "北京时间", at_least=4)  # the code's expiry, the times line, the server's clock
    flows.pair(main, aux)
    aux.wait_for_selector("[data-test=guide] [data-countdown]")
    times_named(aux, "北京时间", at_least=1)
    flows.place_phones(main)
    times_named(main, "北京时间", at_least=3)
    flows.pass_face_gate(main)
    main.wait_for_selector("[data-test=wait] [data-countdown]")
    times_named(main, "北京时间", at_least=1)

    flows.to_recording(main, aux, server, session)
    main.wait_for_selector("[data-test=answer] [data-countdown]")
    assert any(t.startswith(session["answer_ends_at"][:10]) for t in times_named(main, "北京时间"))
    aux.wait_for_selector("[data-test=recording-card] [data-countdown]")
    times_named(aux, "北京时间", at_least=1)

    ends = flows.answer_ends(session)
    main.wait_for_selector(flows.UPLOADING_OR_DONE, timeout=(ends - server.clock.now()).total_seconds() * 1000 + 10000)
    times_named(main, "北京时间")  # the upload deadline, or the finished screen's times
    for page in (main, aux):
        page.wait_for_selector("[data-test=final] [data-test=final-window]", timeout=60000)
        page.wait_for_selector("[data-test=verified-at]", timeout=60000)
        times_named(page, "北京时间", at_least=3)  # the answer window, when the recording was verified
    switch_language(main, "en")
    times_named(main, "Beijing time", at_least=3)


def test_an_exam_in_another_zone_shows_that_zones_name(server: E2EServer, ops: Ops, phone) -> None:
    zone = "Asia/Urumqi"
    exam, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=8, timezone=zone)
    assert exam["timezone"] == zone
    main, aux = phone(), phone()

    flows.login(main, server, candidate)
    times_named(main, f"{zone} 时间", at_least=2)  # when it was confirmed, the support hours
    main.goto(f"{server.url}/main/#/sessions")
    main.wait_for_selector(f"[data-session='{session['id']}'] [data-countdown]")
    shown = times_named(main, f"{zone} 时间", at_least=5)
    # The session's start in Urumqi (+06:00) is two hours before the same instant in Beijing.
    starts = flows.answer_starts(session).astimezone(ZoneInfo(zone))
    assert f"{starts:%Y-%m-%d %H:%M} {zone} 时间" in shown, shown
    assert not any("北京时间" in t for t in shown)

    flows.open_sitting(main, server, session["id"])
    main.wait_for_selector("[data-test=qr-expires] time")
    times_named(main, f"{zone} 时间", at_least=4)
    flows.pair(main, aux)
    aux.wait_for_selector("[data-test=guide] [data-countdown]")
    times_named(aux, f"{zone} 时间", at_least=1)
    flows.place_phones(main)  # the face check's step, with the times line
    for page in (main, aux):
        switch_language(page, "en")
        times_named(page, f"{zone} time", at_least=1)
