"""Two phones in one sitting: QR pairing with live status, phases pushed by the server, the question only from the
answer start, recording on both phones while answering, and an absent candidate who never records."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.e2e import flows
from tests.e2e.support import E2EServer, Ops, parse_countdown


def device_token(page: object, key: str) -> str:
    return page.evaluate(f"JSON.parse(localStorage.getItem({key!r})).token")  # type: ignore[attr-defined]


def stored_recordings(page: object) -> int:
    return page.evaluate(  # type: ignore[attr-defined]
        """() => new Promise((resolve) => {
          const open = indexedDB.open("dualcam");
          open.onupgradeneeded = () => { open.transaction.abort(); resolve(0); };
          open.onerror = () => resolve(0);
          open.onsuccess = () => {
            const db = open.result;
            if (!db.objectStoreNames.contains("recordings")) return resolve(0);
            const req = db.transaction("recordings").objectStore("recordings").count();
            req.onsuccess = () => resolve(req.result);
          };
        })"""
    )


def test_pairing_through_the_qr_code_with_live_status_and_re_pairing(server: E2EServer, ops: Ops, phone) -> None:
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=20)
    main = phone()
    flows.login(main, server, candidate)
    flows.open_sitting(main, server, session["id"])
    assert main.get_attribute("main", "data-stage") == "pair"
    assert main.get_attribute("[data-test=pair-status]", "data-status") == "waiting"
    assert main.get_attribute("[data-test=aux-status]", "data-online") == "false"

    aux = phone()
    url = flows.pair(main, aux)
    assert url.startswith(f"{server.url}/aux/#pair=")
    assert "pair=" not in aux.url  # single use: a reload must not claim it again
    main.wait_for_selector("main[data-stage=guide]")
    aux.wait_for_selector("[data-test=guide]")
    assert "已与主机位配对" in aux.text_content("[data-test=paired]")

    # The same code again (a second phone scanning it) is refused with the server's words.
    intruder = phone()
    intruder.goto(url)
    assert "二维码已被使用" in intruder.wait_for_selector("[data-test=error]").text_content()

    # The aux phone goes away: the main phone sees it at once and offers a fresh code; scanning it pairs again.
    aux.context.close()
    main.wait_for_selector("[data-test=aux-status][data-online=false]")
    main.wait_for_selector("main[data-stage=pair]")
    second = phone()
    assert flows.pair(main, second) != url
    main.wait_for_selector("main[data-stage=guide]")


def test_phases_are_pushed_and_the_question_appears_only_at_answer_start(server: E2EServer, ops: Ops, phone) -> None:
    question = "请结合岗位要求，谈谈你如何在一周内熟悉新的工作环境。"
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=12)
    main, aux = phone(), phone()
    flows.to_ready(main, aux, server, candidate, session["id"])
    aux.wait_for_selector("[data-test=state][data-state=ready]")

    # Before the start the question is nowhere: not on the screen, not from the API.
    assert question not in main.content()
    token = device_token(main, f"dualcam.main.device.{candidate.sitting(session['id'])['id']}")
    early = httpx.get(f"{server.url}/api/v1/device/questions", headers={"Authorization": f"Bearer {token}"})
    assert early.status_code == 403 and early.json()["error"]["code"] == "question_not_revealed"

    starts, ends = flows.answer_starts(session), flows.answer_ends(session)
    server.clock.set(starts - timedelta(seconds=8))
    # The phones notice the server's clock moved (their next time.ping) and count down from there.
    countdown = main.locator("[data-test=wait] [data-countdown]")
    main.wait_for_function("el => /00:0[0-8]$/.test(el.textContent)", arg=countdown.element_handle(), timeout=6000)
    assert parse_countdown(countdown.text_content()) <= 8
    assert question not in main.content()

    main.wait_for_selector("[data-test=question]", timeout=10000)
    assert question in main.text_content("[data-test=question]")
    assert server.clock.now() >= starts
    main.wait_for_selector("[data-test=recording][data-recording=true]")
    aux.wait_for_selector("[data-test=recording][data-recording=true]")
    assert question not in aux.content()  # the aux phone films; the question is on the main phone

    # The answer window ends on its own: both phones stop and go to the upload screen (or, on a fast link, already
    # past it: verified).
    main.wait_for_selector(flows.UPLOADING_OR_DONE, timeout=(ends - server.clock.now()).total_seconds() * 1000 + 10000)
    aux.wait_for_selector(flows.UPLOADING_OR_DONE, timeout=10000)
    assert server.clock.now() >= ends - timedelta(seconds=1)
    assert stored_recordings(main) == 1 and stored_recordings(aux) == 1


def test_a_candidate_who_missed_the_face_gate_is_absent_and_cannot_record(server: E2EServer, ops: Ops, phone) -> None:
    question = "请结合岗位要求，谈谈你如何在一周内熟悉新的工作环境。"
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=12)
    main, aux = phone(), phone()
    flows.login(main, server, candidate)
    flows.open_sitting(main, server, session["id"])
    flows.pair(main, aux)
    flows.place_phones(main)  # ... but never takes the face check

    server.clock.set(flows.answer_starts(session) + timedelta(seconds=1))
    main.wait_for_selector("[data-test=final][data-state=absent]", timeout=10000)
    aux.wait_for_selector("[data-test=final][data-state=absent]", timeout=10000)
    assert "缺考" in main.text_content("[data-test=final]")
    assert question not in main.content()
    assert main.locator("[data-test=recording]").count() == 0
    assert stored_recordings(main) == 0 and stored_recordings(aux) == 0
    token = device_token(main, f"dualcam.main.device.{candidate.sitting(session['id'])['id']}")
    refused = httpx.get(f"{server.url}/api/v1/device/questions", headers={"Authorization": f"Bearer {token}"})
    # Absent: the sitting can no longer be entered (409 sitting_closed), not a question that is merely not yet
    # revealed (403): the answer start has passed.
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "sitting_closed", refused.text
