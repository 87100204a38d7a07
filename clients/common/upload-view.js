// The upload screen both apps show: a progress bar, bytes sent and left, the uploader's state, and "上传完成" only
// once the server verified the recording. A recording the server could not verify is sent again from the phone's
// copy: "录像校验未通过，正在重新上传" with the server's reason in small text (the bar starts again from 0).
// Numbers are patched in place (patchProgress) as chunks are acknowledged, so the screen is not rebuilt every two
// seconds.

import { t, tParts } from "./i18n.js";
import { DEFAULT_TIME_ZONE, fmtBytes, fmtSeconds, h, timeEl } from "./ui.js";

function numbers(p) {
  const total = p.total ?? p.written ?? 0;
  const verified = p.state === "verified";
  const pct = total ? Math.min(100, Math.round((p.acked / total) * 100)) : verified ? 100 : 0;
  return { total, verified, pct, left: Math.max(0, total - (p.acked || 0)) };
}

function stateText(p) {
  if (p.state === "failed" && p.gaveUp) return t("upload.gave_up", { n: p.rejected, reason: reasonText(p.error) });
  return {
    offline: t("upload.waiting_network"),
    retrying: t("upload.waiting_network"),
    verifying: t("upload.verifying"),
    failed: t("upload.failed", { reason: p.error || "" }),
  }[p.state];
}

/**
 * The server's failure reason in the current language: its fixed phrase before the first ":" (what PyAV added after
 * it — error numbers, the server's file path — means nothing to a candidate), translated where known.
 */
export function reasonText(reason) {
  const phrase = String(reason || "").split(":")[0].trim();
  const known = { "not a media file": "reason.not_media", "no video stream": "reason.no_video", "no readable packets": "reason.no_packets", "no video frames": "reason.no_frames" }[phrase];
  return known ? t(known) : phrase;
}

/** Sending again after the server failed an upload: the notice, and the server's reason in small text. */
function resendNotice(p) {
  if (!p.rejected || p.state === "verified" || p.state === "failed") return null;
  return h(
    "div",
    { class: "banner banner-warn", dataset: { test: "upload-resend", count: String(p.rejected) } },
    h("div", {}, t("upload.rejected")),
    h("div", { class: "small", dataset: { test: "upload-resend-reason" } }, t("upload.rejected_reason", { n: p.rejected, reason: reasonText(p.rejectedReason) })),
  );
}

/** The state a screen depends on (numbers excluded: they are patched in place). */
export function progressKey(p) {
  return `${p.state}|${p.written > 0}|${p.stopped}|${p.rejected || 0}`;
}

export function uploadPanel(p, { deadline = null, timeZone = DEFAULT_TIME_ZONE } = {}) {
  const n = numbers(p);
  const text = stateText(p);
  return h(
    "section",
    { class: "card", dataset: { test: "upload", state: p.state } },
    // Once verified there is nothing left to upload: the title says the recording is done.
    h("h2", { dataset: { test: "upload-title" } }, n.verified ? t("upload.title_done") : t("upload.title")),
    !n.verified && h("p", {}, t("upload.intro")),
    h("div", { class: `progress ${n.verified ? "done" : ""}`, dataset: { test: "progress", pct: String(n.pct) } }, h("div", { style: { width: `${n.pct}%` } })),
    h(
      "div",
      { class: "spread small" },
      h("span", { dataset: { test: "bytes-sent" } }, t("upload.progress", { sent: fmtBytes(p.acked), total: fmtBytes(n.total) })),
      h("span", { dataset: { test: "bytes-left", left: String(n.left) } }, t("upload.left", { left: fmtBytes(n.left) })),
    ),
    resendNotice(p),
    text && h("div", { class: `banner ${p.state === "failed" ? "banner-bad" : "banner-info"}`, dataset: { test: "upload-state" } }, text),
    n.verified && h("div", { class: "done-mark", dataset: { test: "upload-done" } }, `✓ ${t("upload.done")}`),
    n.verified && p.result?.duration && h("p", { class: "muted center" }, t("upload.done_detail", { duration: fmtSeconds(p.result.duration) })),
    n.verified && p.result?.verified_at && h("p", { class: "muted center small", dataset: { test: "verified-at" } }, tParts("upload.verified_at", { time: timeEl(p.result.verified_at, timeZone) })),
    deadline && !n.verified && h("p", { class: "muted small", dataset: { test: "upload-deadline" } }, tParts("upload.deadline", { time: timeEl(deadline, timeZone) })),
  );
}

/** Whether the phone recorded anything (a final state shows the upload panel then). */
export function hasRecording(p) {
  return p.written > 0 || p.state === "verified";
}

/** While recording: one line of what was sent so far. */
export function uploadLine(p) {
  return h("p", { class: "muted small", dataset: { test: "upload-line" } }, p.written ? t("upload.progress", { sent: fmtBytes(p.acked), total: fmtBytes(p.written) }) : "");
}

export function patchProgress(root, p) {
  const n = numbers(p);
  const bar = root.querySelector("[data-test=progress]");
  if (bar) {
    bar.dataset.pct = String(n.pct);
    bar.firstElementChild.style.width = `${n.pct}%`;
  }
  const sent = root.querySelector("[data-test=bytes-sent]");
  if (sent) sent.textContent = t("upload.progress", { sent: fmtBytes(p.acked), total: fmtBytes(n.total) });
  const left = root.querySelector("[data-test=bytes-left]");
  if (left) {
    left.textContent = t("upload.left", { left: fmtBytes(n.left) });
    left.dataset.left = String(n.left);
  }
  const line = root.querySelector("[data-test=upload-line]");
  if (line) line.textContent = p.written ? t("upload.progress", { sent: fmtBytes(p.acked), total: fmtBytes(p.written) }) : "";
}
