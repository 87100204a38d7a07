// Pieces of the sitting screen both phones show: notices, the top bar's status pills, the camera preview, the final
// state, and the paint scheduling that keeps the screen current without rebuilding it on every change.

import { t, tParts } from "./i18n.js";
import { h, timeEl } from "./ui.js";

/**
 * One paint per frame however many change notifications (ticks, pushes, upload progress) come in. A hidden page
 * gets no animation frames, so a paint still queued after 300 ms happens anyway and the state stays current.
 */
export function paintScheduler(paint) {
  let queued = false;
  const run = () => {
    if (!queued) return;
    queued = false;
    paint();
  };
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(run);
    setTimeout(run, 300);
  };
}

export function errorBanner(message) {
  return message && h("div", { class: "banner banner-bad", dataset: { test: "error" } }, message);
}

export function reconnectBanner(session) {
  return session?.channelStatus === "down" && h("div", { class: "banner banner-warn", dataset: { test: "reconnecting" } }, navigator.onLine ? t("net.reconnecting") : t("net.offline"));
}

/**
 * A sitting's state as the candidate reads it. A practice attempt that was not ready when its waiting ended is
 * `incomplete` on the server (never absent: a practice has no schedule to miss), and says 未完成, not 未完成上传:
 * there was nothing to upload.
 */
export function stateLabel(sitting, state = sitting.state) {
  if (sitting.kind === "practice" && state === "incomplete" && sitting.missed_start) return t("state.practice_unfinished");
  return t(`state.${state}`);
}

/** What happened to a finished sitting, in one sentence (null while it is not finished). */
export function resultText(sitting, state = sitting.state) {
  const reason = sitting.terminated_reason || "";
  if (sitting.kind === "practice") {
    if (state === "incomplete") return sitting.missed_start ? t("final.practice_missed") : t("final.practice_incomplete");
    if (state === "terminated") return t("final.practice_terminated", { reason });
    if (state === "uploaded") return t("final.practice_uploaded");
  }
  return { absent: t("final.absent"), terminated: t("final.terminated", { reason }), incomplete: t("final.incomplete"), uploaded: t("final.uploaded") }[state] ?? null;
}

/** The other phone's live status and the sitting state, once the sitting is known. */
export function statusPills(session, test, onlineText, offlineText) {
  if (!session?.sitting) return null;
  const online = session.peerOnline;
  return [
    h("span", { class: `pill ${online ? "pill-ok" : "pill-bad"}`, dataset: { test, online: String(online) } }, online ? onlineText : offlineText),
    h("span", { class: "pill", dataset: { test: "state", state: session.state } }, stateLabel(session.sitting, session.state)),
  ];
}

export function recordingPill(recording) {
  return h("span", { class: `pill ${recording ? "pill-live" : "pill-bad"}`, dataset: { test: "recording", recording: String(recording) } }, recording ? t("answer.recording") : t("answer.not_recording"));
}

export function previewWrap(video, recording, overlay = null) {
  return h("div", { class: "preview-wrap" }, video, recording && h("span", { class: "pill pill-live rec" }, "REC"), overlay);
}

export function finalBanner(session) {
  const state = session.state;
  const w = session.windows;
  return h(
    "div",
    { class: `banner ${state === "uploaded" ? "banner-ok" : "banner-bad"}`, dataset: { test: "final", state } },
    h("div", {}, resultText(session.sitting, state)),
    w && h("div", { class: "small", dataset: { test: "final-window" } }, tParts("final.window", { start: timeEl(w.answer_starts_at, session.timeZone), end: timeEl(w.answer_ends_at, session.timeZone) })),
  );
}
