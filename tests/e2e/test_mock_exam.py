"""A whole mock exam on two phones, from log-in to "上传完成", and the same under trouble: the main phone offline for
10 s while recording and the aux page reloaded mid-recording. The server verifies both recordings; PyAV reads them
back and their timelines cover the answer window."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.e2e import flows
from tests.e2e.recordings import probe, recording_files, require_uploads
from tests.e2e.support import E2EServer, Ops, parse_countdown, wait_for

ANSWER_SECONDS = 20


def test_mock_exam_from_log_in_to_upload_complete(server: E2EServer, ops: Ops, phone) -> None:
    require_uploads(server)
    question = "请结合岗位要求，谈谈你如何在一周内熟悉新的工作环境。"
    exam, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=ANSWER_SECONDS, ready_candidate=False)
    ops.notice(exam["id"], "考前须知", "两部手机全程连接充电器。", pinned=True)
    main, aux = phone(), phone()

    # Before the exam: log in, identity check against the ID photo, confirm with the rules, device check.
    flows.login(main, server, candidate)
    assert "考前须知" in main.text_content("[data-test=notices]")
    main.click("[data-nav=identity]")
    main.click("[data-action=selfie]:not([disabled])")
    # The comparison's outcome, whichever it is: a failure shows what the candidate read instead of a bare timeout.
    main.wait_for_selector("[data-test=identity-ok], [data-test=identity] .banner-bad, [data-test=identity] [data-finding]", timeout=30000)
    assert main.locator("[data-test=identity-ok]").count() == 1, main.inner_text("[data-test=identity]")
    main.goto(f"{server.url}/main/#/confirm")
    main.check("input[name=accept]")
    main.click("[data-action=confirm]")
    main.wait_for_selector("[data-test=confirmed]")
    main.goto(f"{server.url}/main/#/check")
    main.wait_for_selector("[data-test=check-summary]")

    # The waiting room: pairing through the QR code, placing the phones, the face gate.
    flows.open_sitting(main, server, session["id"])
    flows.pair(main, aux)
    flows.place_phones(main)
    flows.pass_face_gate(main)
    assert question not in main.content()

    # The answer window, in server time: the question and the recordings start at the start, stop at the end.
    starts, ends = flows.answer_starts(session), flows.answer_ends(session)
    server.clock.set(starts - timedelta(seconds=5))
    countdown = main.locator("[data-test=wait] [data-countdown]")
    main.wait_for_function("el => /00:0[0-5]$/.test(el.textContent)", arg=countdown.element_handle(), timeout=6000)
    assert parse_countdown(countdown.text_content()) <= 5
    main.wait_for_selector("[data-test=question]", timeout=10000)
    assert question in main.text_content("[data-test=question]")
    main.wait_for_selector("[data-test=recording][data-recording=true]")
    aux.wait_for_selector("[data-test=recording][data-recording=true]")
    remaining = parse_countdown(main.text_content("[data-test=answer] [data-countdown]"))
    assert ANSWER_SECONDS - 3 <= remaining <= ANSWER_SECONDS

    # Auto stop at the end; the upload screens; "上传完成" only once the server verified each recording.
    until_end_ms = (ends - server.clock.now()).total_seconds() * 1000
    main.wait_for_selector(flows.UPLOADING_OR_DONE, timeout=until_end_ms + 10000)
    for page in (main, aux):
        page.wait_for_selector("[data-test=upload-done]", timeout=60000)
        assert "上传完成" in page.text_content("[data-test=upload-done]")
        # Nothing is left to upload: the title says the recording is done and verified.
        assert page.text_content("[data-test=upload-title]") == "录制完成，录像已校验"
        assert "上传录像" not in page.inner_text("main")
        assert page.get_attribute("[data-test=progress]", "data-pct") == "100"
        assert page.get_attribute("[data-test=bytes-left]", "data-left") == "0"

    sitting_id = candidate.sitting(session["id"])["id"]
    wait_for(lambda: candidate.sitting(session["id"])["state"] == "uploaded", timeout=20, what="the sitting to be uploaded")
    main.wait_for_selector("[data-test=final][data-state=uploaded]", timeout=15000)
    recordings = recording_files(server, sitting_id)
    assert set(recordings) == {"main", "aux"}, recordings
    for role in ("main", "aux"):
        found = probe(recordings[role])
        assert abs(found["duration"] - ANSWER_SECONDS) <= 1.0, (role, found)
        assert found["video_frames"] > 0 and found["audio_packets"] > 0, (role, found)

    # Back in the sessions list the mock is done: its result, no countdown to its deadline, no way back in.
    card = f"[data-session='{session['id']}']"
    main.click("[data-action=back]")
    main.wait_for_selector(f"{card} [data-test=result][data-state=uploaded]")
    assert main.text_content(f"{card} [data-test=state]") == "已完成"
    assert "两路录像均已上传并校验" in main.text_content(f"{card} [data-test=result]")
    assert main.locator(f"{card} [data-countdown]").count() == 0
    assert main.locator(f"{card} [data-action=enter]").count() == 0
    # And once its upload deadline passed, it says that too.
    server.clock.set(datetime.fromisoformat(session["upload_deadline"]) + timedelta(seconds=1))
    main.reload()
    main.wait_for_selector(f"{card} [data-test=deadline-passed]")
    assert "上传已于北京时间" in main.text_content(f"{card} [data-test=deadline-passed]")
    assert main.locator(f"{card} [data-test=result][data-state=uploaded]").count() == 1


def test_recordings_survive_the_main_phone_offline_and_the_aux_page_reloaded(server: E2EServer, ops: Ops, phone) -> None:
    require_uploads(server)
    answer = 30
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=answer)
    main, aux = phone(), phone()
    flows.to_ready(main, aux, server, candidate, session["id"])
    flows.to_recording(main, aux, server, session)
    starts, ends = flows.answer_starts(session), flows.answer_ends(session)

    def at(seconds: float) -> None:
        """Wait (in the main page, by the server's clock) until `seconds` into the answer window."""
        target = starts + timedelta(seconds=seconds)
        main.wait_for_timeout(max(0, (target - server.clock.now()).total_seconds() * 1000))

    # The main phone loses its network for 10 s: recording goes on, chunks wait in IndexedDB.
    at(4)
    main.context.set_offline(True)
    main.wait_for_selector("[data-test=reconnecting]")
    at(14)
    assert main.get_attribute("[data-test=recording]", "data-recording") == "true"
    main.context.set_offline(False)
    main.wait_for_selector("[data-test=reconnecting]", state="detached", timeout=15000)

    # The aux page is reloaded mid-recording: it comes back to the same sitting and continues the same file.
    at(18)
    aux.reload()
    aux.wait_for_selector("[data-test=recording][data-recording=true]", timeout=10000)
    segments = aux.evaluate(
        "async () => (await import('/common/store.js')).listRecordings().then((r) => r.map((x) => x.segments))"
    )
    assert segments == [2], segments

    for page in (main, aux):
        page.wait_for_selector("[data-test=upload-done]", timeout=(ends - server.clock.now()).total_seconds() * 1000 + 60000)
    sitting_id = candidate.sitting(session["id"])["id"]
    wait_for(lambda: candidate.sitting(session["id"])["state"] == "uploaded", timeout=20, what="the sitting to be uploaded")
    recordings = recording_files(server, sitting_id)
    assert set(recordings) == {"main", "aux"}, recordings
    for role in ("main", "aux"):
        found = probe(recordings[role])
        assert abs(found["duration"] - answer) <= 1.0, (role, found)
        assert found["first"] < 1.0 and found["last"] > answer - 1.5, (role, found)  # covers the window
    assert probe(recordings["aux"])["max_gap"] < 5  # the reload left a short gap, not a restart

    events = ops.events(sitting_id)
    kinds = [e["kind"] for e in events]
    # The outage as the phone saw it, sent over REST once back online (with the phone's own times).
    assert "network_lost" in kinds and "network_restored" in kinds, kinds
    # The aux reload closes its socket: stamped by the server. (The main phone's outage is stamped by the server only
    # when its socket's close frame leaves before Chromium's emulated offline takes hold — a race; a real phone's
    # socket dies silently and the server notices after the presence timeout, longer than this 10 s outage.)
    offline = [e["details"].get("role") for e in events if e["kind"] == "device_offline"]
    assert "aux" in offline, "\n".join(map(str, events))
    # Each recorder started once (main) or once plus once after the reload (aux): never two recorders at a time.
    started: dict[str, list[int]] = {}
    for e in events:
        if e["kind"] == "recording_started":
            started.setdefault(e["device_id"], []).append(e["details"]["segment"])
    assert sorted(started.values()) == [[1], [1, 2]], started
