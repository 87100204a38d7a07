"""A recording the server cannot read is sent again from the phone's copy.

The main phone's first upload arrives corrupted: its PATCHes lose their `Upload-Checksum` header and every body byte
is flipped on the way (Playwright intercepts them; the phone itself sends good bytes), so the server stores
well-formed tus traffic that is not a media file. The server fails the recording; the phone, which keeps its chunks
in IndexedDB until the recording is verified, says so ("录像校验未通过，正在重新上传" and the reason), creates a new
upload and sends everything from offset 0 again, now untouched. The recording ends verified, the sitting `uploaded`,
and the recording a reviewer downloads through the signed link is a playable WebM covering the answer window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e import flows
from tests.e2e.recordings import download, probe, recording_files, require_uploads
from tests.e2e.support import E2EServer, Ops, wait_for

ANSWER_SECONDS = 12

# Notes, in the page, every resend notice the upload screen shows and how many chunks the phone still held then.
WATCH_RESEND = """
window.__resend = [];
new MutationObserver(() => {
  const el = document.querySelector("[data-test=upload-resend]");
  if (!el) return;
  const text = el.innerText;
  if (window.__resend.some((seen) => seen.text === text)) return;
  const seen = { text, count: el.dataset.count, chunks: null };
  window.__resend.push(seen);
  import("/common/store.js").then(async (store) => {
    const recordings = await store.listRecordings();
    seen.chunks = (await Promise.all(recordings.map((r) => store.countChunks(r.key)))).reduce((a, b) => a + b, 0);
  });
}).observe(document, { subtree: true, childList: true });
"""


class CorruptFirstUpload:
    """Garbles every PATCH of the first upload the page sends (body bytes flipped, checksum header dropped) and lets
    everything after it through unchanged."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.garbled = 0
        self.passed: dict[str, int] = {}

    def __call__(self, route: Any) -> None:
        request = route.request
        if request.method != "PATCH":
            route.continue_()
            return
        if self.first is None:
            self.first = request.url
        if request.url != self.first:
            self.passed[request.url] = self.passed.get(request.url, 0) + 1
            route.continue_()
            return
        body = request.post_data_buffer or b""
        headers = {k: v for k, v in request.all_headers().items() if k.lower() != "upload-checksum" and not k.startswith(":")}
        self.garbled += 1
        route.continue_(headers=headers, post_data=bytes(b ^ 0xFF for b in body))


def test_a_recording_the_server_failed_is_sent_again_and_verified(server: E2EServer, ops: Ops, phone, tmp_path: Path) -> None:
    require_uploads(server)
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=ANSWER_SECONDS)
    # Service workers blocked so that Playwright sees the page's own requests (the app's worker never touches /api/).
    main, aux = phone(service_workers="block"), phone()
    corrupt = CorruptFirstUpload()
    main.context.route("**/api/v1/uploads/**", corrupt)
    main.context.add_init_script(WATCH_RESEND)

    flows.to_ready(main, aux, server, candidate, session["id"])
    flows.to_recording(main, aux, server, session)
    ends = flows.answer_ends(session)

    # The recording stops at the end; the first upload fails verification; the phone sends it again; verified.
    until_end_ms = (ends - server.clock.now()).total_seconds() * 1000
    # (The notice may show for less than a second on loopback: the page itself notes it when it appears.)
    main.wait_for_function("() => window.__resend.length > 0", timeout=until_end_ms + 30000)
    for page in (main, aux):
        page.wait_for_selector("[data-test=upload-done]", timeout=60000)
        assert "上传完成" in page.text_content("[data-test=upload-done]")
        assert page.get_attribute("[data-test=progress]", "data-pct") == "100"
    assert main.query_selector("[data-test=upload-resend]") is None  # the notice goes once verified

    # What the candidate saw meanwhile: the notice in zh-CN, the server's reason in small text, the chunks still there.
    seen = main.evaluate("window.__resend")
    assert seen, "the resend notice never showed"
    assert seen[0]["text"].startswith("录像校验未通过，正在重新上传"), seen
    assert "第 1 次重新上传 · 原因：文件无法识别为视频（not a media file）" in seen[0]["text"], seen
    assert "/" not in seen[0]["text"].split("原因：")[1], seen  # the server's file path in its reason is not shown
    assert seen[0]["count"] == "1" and seen[0]["chunks"], seen  # kept after every byte was acknowledged
    # Verified: only now are the chunks gone (the bookkeeping stays so a reload still shows "上传完成").
    kept = main.evaluate(
        "async () => { const s = await import('/common/store.js'); const r = await s.listRecordings();"
        " return Promise.all(r.map(async (x) => [x.verified, x.rejected.length, await s.countChunks(x.key)])); }"
    )
    assert kept == [[True, 1, 0]], kept

    # The wire: every PATCH of the first upload was garbled; the second upload's went through as sent, after the
    # stop, so at once: every stored chunk in one PATCH.
    assert corrupt.garbled >= 2, corrupt.garbled
    assert len(corrupt.passed) == 1 and next(iter(corrupt.passed.values())) == 1, corrupt.passed

    # The server: failed, sent again, verified; the sitting is uploaded.
    sitting_id = candidate.sitting(session["id"])["id"]
    wait_for(lambda: candidate.sitting(session["id"])["state"] == "uploaded", timeout=20, what="the sitting to be uploaded")
    main.wait_for_selector("[data-test=final][data-state=uploaded]", timeout=15000)
    recs = ops.recordings(sitting_id)
    assert recs["main"]["status"] == "verified" and recs["main"]["attempts"] == 2, recs["main"]
    assert recs["aux"]["status"] == "verified" and recs["aux"]["attempts"] == 1, recs["aux"]
    audit = ops.http.call("GET", "/api/v1/ops/audit", params={"target_id": recs["main"]["id"], "limit": 50})
    actions = [entry["action"] for entry in reversed(audit)]  # oldest first
    assert [a for a in actions if a != "recording.link"] == ["recording.create", "recording.failed", "recording.resend", "recording.verified"], actions
    failed = next(entry for entry in audit if entry["action"] == "recording.failed")
    assert "not a media file" in str(failed), failed

    # The recording a reviewer watches: the second upload, a playable WebM covering the answer window.
    watched = download(server, recs["main"]["original_url"], tmp_path / "main.webm")
    assert watched.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML magic: WebM
    assert recording_files(server, sitting_id)["main"].read_bytes() == watched.read_bytes()
    for role, path in (("main", watched), ("aux", recording_files(server, sitting_id)["aux"])):
        found = probe(path)
        assert abs(found["duration"] - ANSWER_SECONDS) <= 1.0, (role, found)
        assert found["first"] < 1.0 and found["last"] > ANSWER_SECONDS - 1.5, (role, found)
        assert found["video_frames"] > 0 and found["audio_packets"] > 0, (role, found)


def test_the_resend_notice_in_english(server: E2EServer, phone) -> None:
    """The same upload screen after the language switch (the strings are the app's own, rendered by upload-view.js)."""
    page = phone()
    page.goto(f"{server.url}/main/")
    texts = page.evaluate(
        """async () => {
          const i18n = await import('/common/i18n.js');
          const view = await import('/common/upload-view.js');
          const panel = (p) => view.uploadPanel({ acked: 100, written: 400, total: 400, stopped: true, ...p }).innerText;
          i18n.setLang('en');
          const en = panel({ state: 'uploading', rejected: 1, rejectedReason: 'not a media file: [Errno 1094995529] Invalid data' });
          const gaveUp = panel({ state: 'failed', gaveUp: true, rejected: 3, error: 'no video stream' });
          i18n.setLang('zh-CN');
          return { en, gaveUp, zh: panel({ state: 'uploading', rejected: 2, rejectedReason: 'no video stream' }) };
        }"""
    )
    assert "The recording did not pass the server's check; sending it again" in texts["en"], texts
    assert "Resend 1 · reason: not a media file" in texts["en"], texts
    assert "sent 3 times" in texts["gaveUp"] and "(no video stream)" in texts["gaveUp"], texts
    assert "录像校验未通过，正在重新上传" in texts["zh"] and "第 2 次重新上传 · 原因：没有视频画面（no video stream）" in texts["zh"], texts


def test_the_store_upgrade_keeps_chunks_and_finds_them_by_offset(server: E2EServer, phone) -> None:
    """A phone that recorded with the previous app version (IndexedDB v1, no offset index) and reloads with this one
    keeps its chunks, and the uploader finds the chunk holding any offset."""
    page = phone()
    page.goto(f"{server.url}/main/#/none")
    found = page.evaluate(
        """async () => {
          // The v1 schema, as the previous version created it, with three chunks of 10, 20 and 5 bytes.
          await new Promise((resolve) => (indexedDB.deleteDatabase("dualcam").onsuccess = resolve));
          const v1 = await new Promise((resolve, reject) => {
            const r = indexedDB.open("dualcam", 1);
            r.onupgradeneeded = () => {
              r.result.createObjectStore("recordings", { keyPath: "key" });
              r.result.createObjectStore("chunks", { keyPath: ["key", "seq"] });
            };
            r.onsuccess = () => resolve(r.result);
            r.onerror = () => reject(r.error);
          });
          const tx = v1.transaction(["recordings", "chunks"], "readwrite");
          tx.objectStore("recordings").put({ key: "main:s1", nextSeq: 3, bytesWritten: 35 });
          [[0, 0, 10], [1, 10, 20], [2, 30, 5]].forEach(([seq, offset, size]) =>
            tx.objectStore("chunks").put({ key: "main:s1", seq, offset, size, blob: new Blob([new Uint8Array(size)]) }));
          tx.objectStore("chunks").put({ key: "main:s2", seq: 0, offset: 0, size: 7, blob: new Blob([new Uint8Array(7)]) });
          await new Promise((resolve) => (tx.oncomplete = resolve));
          v1.close();
          const store = await import("/common/store.js?upgrade");
          const at = async (offset) => (await store.chunkAt("main:s1", offset))?.seq ?? null;
          return { at: [await at(0), await at(9), await at(10), await at(29), await at(30), await at(34), await at(35)], count: await store.countChunks("main:s1") };
        }"""
    )
    assert found == {"at": [0, 0, 1, 1, 2, 2, None], "count": 3}, found
