"""Practice at any time: an attempt starts on demand and runs the whole flow (pairing, face gate, question,
recording); the candidate stops early, after confirming, and both phones stop. Started twice or on a second phone
it is one attempt, and one nobody got ready for ends unfinished (未完成), never absent (缺考)."""

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


def test_practice_started_twice_and_on_a_second_phone_is_one_attempt_that_ends_unfinished_not_absent(
    server: E2EServer, ops: Ops, phone
) -> None:
    exam = ops.exam()
    practice = ops.practice(exam["id"], waiting=60, answer=60)
    ops.question(practice["id"], "练习题：请谈谈你的职业规划。")
    candidate = ops.candidate(exam["id"]).login()
    candidate.confirm()
    first, second = phone(), phone()
    card = f"[data-session='{practice['id']}']"

    # 开始练习 tapped twice in a row (one start goes out: a second answer would open the sitting screen again over
    # the first), then again from the list: one attempt.
    flows.login(first, server, candidate)
    first.goto(f"{server.url}/main/#/sessions")
    starts: list[str] = []
    first.on("request", lambda r: starts.append(r.url) if r.method == "POST" and r.url.endswith("/attempts") else None)
    first.dblclick(f"{card} [data-action=practice]")
    first.wait_for_selector("main[data-stage=pair]")
    assert len(starts) == 1, starts
    sitting_id = first.url.rsplit("/", 1)[1]
    first.goto(f"{server.url}/main/#/sessions")
    first.wait_for_selector(f"{card} [data-action=practice][data-open=true]")
    assert "继续练习" in first.text_content(f"{card} [data-action=practice]")
    assert "第 1 次" in first.text_content(f"{card} [data-test=attempt]")
    first.click(f"{card} [data-action=practice]")
    first.wait_for_url(f"**/#/sitting/{sitting_id}")

    # The practice opened on a second phone: the same attempt again.
    flows.login(second, server, candidate)
    second.goto(f"{server.url}/main/#/sessions")
    second.click(f"{card} [data-action=practice]")
    second.wait_for_selector("main[data-stage]:not([data-stage=loading])")
    assert second.url.rsplit("/", 1)[1] == sitting_id
    assert [s["attempt"] for s in ops.sittings(practice["id"])] == [1]

    # Its waiting ends with nobody ready: the attempt ends, unfinished — never absent — and says why.
    sitting = candidate.http.call("GET", f"/api/v1/candidate/sittings/{sitting_id}")
    server.clock.set(datetime.fromisoformat(sitting["windows"]["answer_starts_at"]) + timedelta(seconds=1))
    second.wait_for_selector("[data-test=final][data-state=incomplete]", timeout=10000)
    final = second.text_content("main")
    assert "本次练习未完成" in final and "没有开始答题" in final and "缺考" not in final
    assert second.text_content("[data-test=state]") == "未完成"
    assert second.locator("main .banner:not([data-test=replaced-other])").count() == 1  # said once (beside the line that it took over from the first phone)
    first.goto(f"{server.url}/main/#/sessions")
    first.wait_for_selector(f"{card} [data-test=result][data-state=incomplete]")
    listed = first.text_content(card)
    assert "未完成" in listed and "本次练习未完成" in listed and "缺考" not in listed
    assert "开始练习" in first.text_content(f"{card} [data-action=practice]")
    assert first.locator(f"{card} [data-countdown]").count() == 0

    # Practice again from the final screen: a new attempt, waiting for its phones.
    second.click("[data-action=practice-again]")
    second.wait_for_selector("main[data-stage=pair]")
    again = second.url.rsplit("/", 1)[1]
    assert again != sitting_id
    assert sorted(s["attempt"] for s in ops.sittings(practice["id"])) == [1, 2]
