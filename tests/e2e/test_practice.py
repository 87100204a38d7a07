"""Practice at any time: an attempt starts on demand and runs the whole flow (pairing, face gate, question,
recording); the candidate stops early, after confirming, and both phones stop."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.e2e import flows
from tests.e2e.support import E2EServer, Ops


def test_practice_any_time_with_a_confirmed_early_stop(server: E2EServer, ops: Ops, phone) -> None:
    exam = ops.exam()
    practice = ops.practice(exam["id"], waiting=120, answer=60)
    ops.question(practice["id"], "练习题：请用一分钟介绍你自己。")
    candidate = ops.candidate(exam["id"]).login()
    candidate.confirm()
    candidate.verify_identity()
    main, aux = phone(), phone()
    flows.login(main, server, candidate)

    main.goto(f"{server.url}/main/#/sessions")
    main.click(f"[data-session='{practice['id']}'] [data-action=practice]")
    main.wait_for_selector("main[data-stage=pair]")
    sitting_id = main.url.rsplit("/", 1)[1]
    flows.pair(main, aux)
    flows.place_phones(main)
    flows.pass_face_gate(main)

    sitting = candidate.http.call("GET", f"/api/v1/candidate/sittings/{sitting_id}")
    server.clock.set(datetime.fromisoformat(sitting["windows"]["answer_starts_at"]) - timedelta(seconds=1))
    main.wait_for_selector("[data-test=question]", timeout=10000)
    assert "练习题" in main.text_content("[data-test=question]")
    main.wait_for_selector("[data-test=recording][data-recording=true]")
    aux.wait_for_selector("[data-test=recording][data-recording=true]")

    # Early stop asks first; "keep answering" changes nothing.
    main.click("[data-action=stop]")
    main.click("[data-action=cancel]")
    assert main.get_attribute("main", "data-stage") == "answer"
    main.click("[data-action=stop]")
    assert "提前结束答题" in main.text_content(".modal-text") or "确定" in main.text_content(".modal-text")
    main.click("[data-action=confirm]")
    main.wait_for_selector(flows.UPLOADING_OR_DONE)
    aux.wait_for_selector(flows.UPLOADING_OR_DONE, timeout=10000)  # the server told the aux phone to stop
    assert candidate.http.call("GET", f"/api/v1/candidate/sittings/{sitting_id}")["state"] in ("recorded", "uploaded")
