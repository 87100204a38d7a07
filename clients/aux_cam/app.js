// Aux camera app (辅机位, the 小艺帮助手 role). Opened from the main phone's QR code: /aux/#pair=<token> is claimed
// at once (no typing) and the device token kept, so a reload or a reopened app continues where it was. The aux
// phone follows the sitting's phases from the server: it shows the positioning guide until the answer starts,
// records while answering, then uploads.

import { apiClient } from "/common/api.js";
import { DeviceSession, FINAL_STATES, savedDevice } from "/common/device.js";
import { applyLang, getLang, onLangChange, t, tParts } from "/common/i18n.js";
import { getStream, preview, releaseStream } from "/common/media.js";
import { registerServiceWorker } from "/common/pwa.js";
import { replacedOtherLine, replacedScreen } from "/common/replaced-view.js";
import { errorBanner, finalBanner, paintScheduler, previewWrap, reconnectBanner, recordingPill, statusPills } from "/common/sitting-view.js";
import { DEFAULT_TIME_ZONE, countdownEl, errorText, h, header, mount, timeEl, updateCountdowns } from "/common/ui.js";
import { hasRecording, patchProgress, progressKey, uploadLine, uploadPanel } from "/common/upload-view.js";

const DEVICE_KEY = "dualcam.aux.device";
const root = document.getElementById("app");
const anonymous = apiClient();

let device = savedDevice(DEVICE_KEY);
let session = null;
let video = null;
let message = null;
let claiming = false;
let repairShown = false; // the replaced screen's button opened the steps to pair again
const render = paintScheduler(() => renderNow());

function pairToken() {
  const match = location.hash.match(/pair=([^&]+)/);
  return match ? decodeURIComponent(match[1]) : null;
}

async function claim(token) {
  claiming = true;
  render();
  try {
    const headers = device ? { Authorization: `Bearer ${device.token}` } : {};
    const body = await anonymous.request("POST", "/api/v1/pairing/claim", { json: { token }, headers });
    // replaced_at: this phone took the aux role over from another one (the screen says so, with the time).
    device = { token: body.token, expires_at: body.expires_at, device_id: body.device_id, sitting_id: body.sitting_id, replaced_at: body.replaced_at ?? null, timezone: body.timezone ?? null };
    localStorage.setItem(DEVICE_KEY, JSON.stringify(device));
    message = null;
  } catch (error) {
    message = errorText(error);
  } finally {
    claiming = false;
    // The code is single use: a reload must not claim it again.
    history.replaceState(null, "", location.pathname);
  }
}

async function start() {
  const token = pairToken();
  if (token) {
    // Pairing (again): the old session's recorder and uploader are out before the new ones take the recording on.
    const old = session;
    session = null;
    old?.stop();
    await old?.capture.halt();
    video = null;
    repairShown = false;
    await claim(token);
  }
  if (!device) return render();
  const mine = device; // this session's token, even after a later pairing replaces `device`
  const current = new DeviceSession({
    role: "aux",
    sittingId: mine.sitting_id,
    token: () => mine.token,
    stream: () => getStream({ video: { facingMode: "environment", width: { max: 1280 }, height: { max: 1280 }, frameRate: { ideal: 15, max: 30 } }, audio: true }),
    onChange: () => render(),
    onClosed: (reason) => {
      // Refused: pair again. Replaced: the refused token stays, so a reload shows the replaced screen again.
      if (reason === "unauthorized") localStorage.removeItem(DEVICE_KEY);
      if (reason === "superseded") {
        video = null;
        current.halted.then(() => releaseStream()); // the camera goes off once recording has stopped
      }
      render();
    },
  });
  session = current;
  render();
  try {
    await current.start();
    if (current.closedReason || session !== current) return render(); // replaced while away: the camera stays off
    const stream = await current.getStream();
    if (!current.closedReason && session === current) video = preview(stream);
  } catch (error) {
    message = error.status ? errorText(error) : t("err.camera");
  }
  render();
}

let lastSignature = null;

/** What the screen shows but countdowns and upload numbers (patched in place). */
function signature() {
  const p = session?.capture.status();
  return JSON.stringify([
    getLang(), stage(), session?.state, session?.peerOnline, session?.channelStatus, session?.closedReason, message,
    Boolean(video), session?.capture.recorder.recording, p && progressKey(p), navigator.onLine, repairShown, device?.replaced_at,
  ]);
}

function renderNow() {
  const sig = signature();
  if (sig === lastSignature) {
    if (session) patchProgress(root, session.capture.status());
    return;
  }
  lastSignature = sig;
  const pills = stage() === "replaced" ? null : statusPills(session, "main-status", t("aux.main_online"), t("aux.main_offline"));
  mount(root, header(t("aux.title"), pills), h("main", { dataset: { stage: stage() } }, body()));
}

function stage() {
  if (claiming) return "claiming";
  if (session?.closedReason === "superseded") return "replaced";
  if (!device || session?.closedReason) return "unpaired";
  const state = session?.state;
  if (!state) return "loading";
  if (FINAL_STATES.has(state)) return "final";
  if (state === "answering") return "recording";
  if (state === "recorded") return "upload";
  // Face check passed and both phones online: nothing is left to place or wait for but the start.
  if (state === "ready") return "ready";
  return "guide";
}

function body() {
  const s = session;
  const st = stage();
  const notices = [errorBanner(message), reconnectBanner(s), st !== "replaced" && replacedOtherLine(device?.replaced_at, device?.timezone || undefined)];
  if (st === "claiming") return [notices, h("p", { class: "muted" }, t("aux.claiming"))];
  if (st === "replaced") {
    // The aux phone has no account: its way back is the main phone's code, so the button opens how to scan it.
    const reveal = () => {
      repairShown = true;
      render();
    };
    return [errorBanner(message), replacedScreen({ notice: s.replaced, role: "aux", onRelogin: reveal, repairShown })];
  }
  if (st === "unpaired") {
    return [notices, h("section", { class: "card", dataset: { test: "unpaired" } }, h("h2", {}, t("aux.title")), h("p", {}, t("aux.no_pair")))];
  }
  if (st === "loading") return [notices, h("p", { class: "muted" }, t("common.loading"))];
  const w = s.windows;
  const preview_ = previewWrap(video, s.capture.recorder.recording);
  if (st === "guide") {
    return [
      notices,
      h("div", { class: "banner banner-ok", dataset: { test: "paired" } }, t("aux.claimed")),
      h(
        "section",
        { class: "card", dataset: { test: "guide" } },
        h("h2", {}, t("guide.title")),
        preview_,
        h("p", {}, t("guide.aux")),
        h("p", { class: "muted" }, t("guide.tips")),
        h("p", {}, t("aux.follow")),
        countdownEl(w.answer_starts_at, "wait.countdown", { className: "big-countdown", timeZone: s.timeZone }),
        h("p", { class: "muted small" }, t("aux.repair")),
      ),
    ];
  }
  if (st === "ready") {
    const tz = s.sitting.timezone || DEFAULT_TIME_ZONE;
    return [
      notices,
      h(
        "section",
        { class: "card", dataset: { test: "aux-ready" } },
        h("h2", {}, tParts("aux.ready", { time: timeEl(w.answer_starts_at, tz, { clock: true }) })),
        countdownEl(w.answer_starts_at, "wait.countdown", { className: "big-countdown", timeZone: s.timeZone }),
        preview_,
        h("p", { class: "muted" }, t("aux.keep")),
      ),
    ];
  }
  if (st === "recording") {
    return [
      notices,
      h(
        "section",
        { class: "card", dataset: { test: "recording-card" } },
        h("div", { class: "spread" }, h("h2", {}, t("aux.recording")), recordingPill(s.capture.recorder.recording)),
        countdownEl(w.answer_ends_at, "answer.remaining", { className: "big-countdown", timeZone: s.timeZone }),
        preview_,
        h("p", { class: "muted" }, t("aux.follow")),
        uploadLine(s.capture.status()),
      ),
    ];
  }
  const panel = () => uploadPanel(s.capture.status(), { deadline: w.upload_deadline, timeZone: s.timeZone });
  if (st === "upload") return [notices, panel()];
  return [notices, finalBanner(s), hasRecording(s.capture.status()) && panel()];
}

applyLang();
onLangChange(() => {
  applyLang();
  renderNow();
});
window.addEventListener("hashchange", () => {
  if (pairToken()) start();
});
setInterval(() => updateCountdowns(root), 250);
start();
registerServiceWorker("/aux/sw.js");
