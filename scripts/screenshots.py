"""`make screenshots`: drive both phone apps through a mock exam (the flows of the browser tests) and write a PNG
of every main screen, zh-CN, under docs/screenshots/.

The upload screens are caught mid-way by slowing the phones' uploads (Chromium's network throttling) while they
record, so the progress bar and the bytes left are real. The main phone's first upload is garbled on the way
(body bytes flipped, checksum header dropped: what a broken proxy could do), so the server fails it and the screen
"录像校验未通过，正在重新上传" is real too; the resend then goes through untouched and is verified. Then, in another
mock, phones replaced by other phones: the screens the replaced main and aux phones show, and the line on the phone
that took over.

Needs Debian chromium (/usr/bin/chromium or $DUALCAM_CHROMIUM) and a CJK font (fonts-wqy-microhei or
fonts-noto-cjk) for the Chinese text. Starts its own `dualcam serve` on a free loopback port with a file clock.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import Page, Route, sync_playwright  # noqa: E402

from tests.e2e import flows  # noqa: E402
from tests.e2e.support import CHROMIUM, CHROMIUM_FLAGS, FACES, PHONE, T0, E2EServer, Ops, TickingClock, empty_desk_camera, make_fake_camera, question_picture  # noqa: E402


def shot(page: Page, out: Path, name: str, *, full_page: bool = True) -> None:
    """`full_page=False`: the screen only, for what covers the screen (a full-page picture shows a fixed overlay over
    its top part only)."""
    # From the top: a click further down scrolled the page, and a full-page picture of a scrolled page shows the
    # sticky top bar part-way down with the step bar under it.
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(400)  # let the camera preview paint a frame
    path = out / f"{name}.png"
    # 128 colours: a quarter of the bytes, still crisp text (the repository keeps these files).
    image = Image.open(io.BytesIO(page.screenshot(full_page=full_page))).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"  {path}")


_CDP: dict[int, object] = {}


def throttle(page: Page, upload_bytes_per_second: float | None) -> None:
    """Limit what the page may send per second (None: the full speed of loopback)."""
    cdp = _CDP.get(id(page))
    if cdp is None:
        cdp = _CDP[id(page)] = page.context.new_cdp_session(page)
        cdp.send("Network.enable")  # type: ignore[attr-defined]
    rate = -1 if upload_bytes_per_second is None else upload_bytes_per_second
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": rate})  # type: ignore[attr-defined]


def garble_first_upload(page: Page) -> None:
    """Every PATCH of the first upload the page sends arrives garbled; later uploads go through untouched."""
    first: list[str] = []

    def handle(route: Route) -> None:
        request = route.request
        if request.method != "PATCH":
            route.continue_()
            return
        if not first:
            first.append(request.url)
        if request.url != first[0]:
            route.continue_()
            return
        headers = {k: v for k, v in request.all_headers().items() if k.lower() != "upload-checksum" and not k.startswith(":")}
        route.continue_(headers=headers, post_data=bytes(b ^ 0xFF for b in request.post_data_buffer or b""))

    page.context.route("**/api/v1/uploads/**", handle)


def progress_of(page: Page) -> int:
    return int(page.get_attribute("[data-test=progress]", "data-pct") or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--answer-seconds", type=int, default=12)
    parser.add_argument("--only", choices=["live-hint"], help="one scene only")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"chromium not found at {CHROMIUM}: apt-get install -y chromium fonts-wqy-microhei")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dualcam-screens-"))
    clock = TickingClock(work / "clock.txt", T0)
    from app.face.packs import fetch_models

    models = ROOT / "var" / "models"
    fetch_models(models, ("sface",))
    # Stills every 3 s: the live hint comes up within seconds of the answer start.
    server = E2EServer(work, clock, models, extra_env={"DUALCAM_LIVE_STILL_SECONDS": "3"})
    server.start()
    camera = make_fake_camera(FACES / "person_a_2.jpg", work / "camera.y4m")
    print(f"dualcam serve at {server.url}; writing {out}/")
    try:
        ops = Ops(server)
        with sync_playwright() as playwright:
            if args.only is None:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={camera}"])
                run(browser, server, ops, out, args.answer_seconds)
                takeover(browser, server, ops, out)
                browser.close()
            desk = empty_desk_camera(work)
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={desk}"])
            live_hint(browser, server, ops, out)
            browser.close()
    finally:
        server.stop()
        clock.close()


def run(browser, server: E2EServer, ops: Ops, out: Path, answer_seconds: int) -> None:  # type: ignore[no-untyped-def]
    exam, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=answer_seconds, question_image=question_picture(), title="2026年某市事业单位公开招聘面试")
    ops.notice(exam["id"], "考前须知", "请准备两部手机：主机位放在正前方，辅机位放在侧后方；两部手机全程连接充电器。", pinned=True)
    ops.notice(exam["id"], "设备要求", "安卓 8 或 iOS 14 以上，使用系统浏览器或微信扫码打开。")
    practice = ops.practice(exam["id"], waiting=120, answer=120)
    # A formal session tomorrow whose title does not name its kind: the list shows the kind as a badge there.
    tomorrow = flows.answer_starts(session) + timedelta(days=1)
    ops.timed_session(exam["id"], "formal", tomorrow, tomorrow + timedelta(minutes=10), tomorrow + timedelta(minutes=40), tomorrow + timedelta(hours=3), title="结构化面试")
    # Service workers blocked on the main phone so that Playwright sees its uploads (the app's worker never touches
    # /api/ anyway).
    main = browser.new_context(**PHONE, service_workers="block").new_page()
    aux = browser.new_context(**PHONE).new_page()
    if uploads_mounted(server):
        garble_first_upload(main)

    main.goto(f"{server.url}/main/")
    main.wait_for_selector("[data-action=login]")
    shot(main, out, "main-01-login")
    flows.login(main, server, candidate)
    shot(main, out, "main-02-home")
    main.click("[data-nav=confirm]")
    main.wait_for_selector("[data-test=confirmed]")
    shot(main, out, "main-03-confirm")
    main.goto(f"{server.url}/main/#/check")
    main.wait_for_selector("[data-test=check-summary]")
    shot(main, out, "main-04-device-check")
    main.goto(f"{server.url}/main/#/sessions")
    main.wait_for_selector("[data-test=sessions] [data-countdown]")
    shot(main, out, "main-05-sessions")

    aux.goto(f"{server.url}/aux/")
    aux.wait_for_selector("[data-test=unpaired]")
    shot(aux, out, "aux-01-open-from-qr")

    flows.open_sitting(main, server, session["id"])
    main.wait_for_selector("[data-test=qr] svg")
    shot(main, out, "main-06-pairing-qr")
    flows.pair(main, aux)
    aux.wait_for_selector("[data-test=guide] video")
    shot(aux, out, "aux-02-guide")
    main.wait_for_selector("[data-test=guide] video")
    shot(main, out, "main-07-positioning-guide")
    main.click("[data-action=guide-done]")
    main.wait_for_selector("[data-test=live-hint]")
    shot(main, out, "main-08-face-check")
    flows.pass_face_gate(main)
    shot(main, out, "main-09-waiting-ready")
    aux.wait_for_selector("[data-test=aux-ready] video")
    shot(aux, out, "aux-03-ready")

    uploads = uploads_mounted(server)
    if uploads:
        # A slow uplink while recording (the fake camera makes ~25 KB/s): the upload screens start with bytes left.
        for page in (main, aux):
            throttle(page, 10000)
    server.clock.set(flows.answer_starts(session) - timedelta(seconds=3))
    main.wait_for_selector("[data-test=question]", timeout=15000)
    main.wait_for_selector("[data-test=recording][data-recording=true]")
    aux.wait_for_selector("[data-test=recording][data-recording=true]")
    main.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=main.wait_for_selector("[data-test=question-image]"))
    time.sleep(2)
    shot(main, out, "main-10-answering")
    shot(aux, out, "aux-04-recording")
    main.click("[data-test=question-image]")
    main.wait_for_selector("[data-test=question-image-zoom]")
    shot(main, out, "main-19-question-image-zoomed", full_page=False)
    main.click("[data-test=question-image-zoom]")

    if not uploads:
        print("  note: no tus server at /api/v1/uploads/ yet; the upload screens are left out")
        return
    for page in (main, aux):
        page.wait_for_selector("main[data-stage=upload]", timeout=(answer_seconds + 15) * 1000)
    shot(main, out, "main-11-uploading")
    shot(aux, out, "aux-05-uploading")
    # The rest of the first upload at a better speed; the server fails it (garbled on the way); the phone sends the
    # recording again, slowly enough to see it.
    throttle(aux, None)
    throttle(main, 30000)
    main.wait_for_selector("[data-test=upload-resend]", timeout=120000)
    main.wait_for_function("() => document.querySelector('[data-test=progress]')?.dataset.pct >= 25", timeout=60000)
    shot(main, out, "main-12-upload-resending")
    throttle(main, None)
    try:
        main.wait_for_selector("[data-test=upload-done]", timeout=60000)
        aux.wait_for_selector("[data-test=upload-done]", timeout=60000)
        main.wait_for_selector("[data-test=final][data-state=uploaded]", timeout=15000)
        aux.wait_for_selector("[data-test=final][data-state=uploaded]", timeout=15000)
    except Exception:  # noqa: BLE001 - an unverified upload still gets its picture, with a warning
        print("  warning: the uploads were not verified within 60 s; the last screens show the upload in progress")
    shot(main, out, "main-13-upload-complete")
    shot(aux, out, "aux-06-upload-complete")

    # A practice attempt nobody gets ready for, and the clock past the mock's upload deadline: the practice ends
    # unfinished (未完成, never 缺考) and the list shows each session's result instead of a countdown.
    card = f"[data-session='{practice['id']}']"
    main.click("[data-action=back]")
    main.click(f"{card} [data-action=practice]")
    main.wait_for_selector("main[data-stage=pair]")
    server.clock.set(datetime.fromisoformat(session["upload_deadline"]) + timedelta(minutes=1))
    main.wait_for_selector("[data-test=final][data-state=incomplete]", timeout=15000)
    shot(main, out, "main-16-practice-unfinished")
    main.click("[data-action=back]")
    main.wait_for_selector(f"{card} [data-test=result]")
    main.wait_for_selector("[data-test=deadline-passed]")
    shot(main, out, "main-17-sessions-finished")


def takeover(browser, server: E2EServer, ops: Ops, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Phones replaced in the waiting room of another mock: the aux phone by a second one that scanned the code the
    main phone shows on "更换辅机位" (its screen with the steps to pair again open), then the main phone by a second
    one the candidate logged in on, and the line that phone shows."""
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=60, title="2026年某市事业单位公开招聘面试")
    main, aux = (browser.new_context(**PHONE).new_page() for _ in range(2))
    flows.to_ready(main, aux, server, candidate, session["id"])
    main.click("[data-action=replace-aux]")
    other_aux = browser.new_context(**PHONE).new_page()
    other_aux.goto(flows.scan_qr(main))
    aux.wait_for_selector("[data-test=replaced]")
    aux.click("[data-action=relogin]")
    aux.wait_for_selector("[data-test=repair-steps]")
    shot(aux, out, "aux-07-replaced")

    other_main = browser.new_context(**PHONE).new_page()
    flows.login(other_main, server, candidate)
    flows.open_sitting(other_main, server, session["id"])
    main.wait_for_selector("[data-test=replaced]")
    shot(main, out, "main-14-replaced")
    other_main.wait_for_selector("[data-test=replaced-other]")
    shot(other_main, out, "main-15-took-over")


def live_hint(browser, server: E2EServer, ops: Ops, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Answering with nobody in the main phone's picture (its camera shows an empty desk; the face gate is passed
    with a photo): the live stills find no face and the phone shows the gentle hint over the preview."""
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=30, title="2026年某市事业单位公开招聘面试")
    main, aux = (browser.new_context(**PHONE).new_page() for _ in range(2))
    flows.login(main, server, candidate)
    flows.open_sitting(main, server, session["id"])
    flows.pair(main, aux)
    flows.place_phones(main)
    flows.pass_face_gate_with_photo(main, server, candidate.sitting(session["id"])["id"])
    flows.to_recording(main, aux, server, session)
    main.wait_for_selector("[data-test=still-hint]", timeout=20000)
    shot(main, out, "main-18-live-hint")


def uploads_mounted(server: E2EServer) -> bool:
    return httpx.options(f"{server.url}/api/v1/uploads/").status_code == 204


if __name__ == "__main__":
    main()
