// Aux camera app (辅机位, the 小艺帮助手 role). Opened from the main phone's QR code: /aux/#pair=<token> is claimed
// at once (no typing) and the device token kept, so a reload or a reopened app continues where it was. The aux
// phone follows the sitting's phases from the server: it shows the positioning guide until the answer starts,
// records while answering, then uploads.

import { apiClient } from "/common/api.js";
import { DeviceSession, FINAL_STATES } from "/common/device.js";
import { applyLang, getLang, onLangChange, t } from "/common/i18n.js";
import { getStream, preview } from "/common/media.js";
import { registerServiceWorker } from "/common/pwa.js";
import { countdownEl, errorText, h, header, mount, updateCountdowns } from "/common/ui.js";
import { patchProgress, progressKey, uploadLine, uploadPanel } from "/common/upload-view.js";

const DEVICE_KEY = "dualcam.aux.device";
const root = document.getElementById("app");
const anonymous = apiClient();

let device = loadDevice();
let session = null;
let video = null;
let message = null;
let claiming = false;
let renderQueued = false;

function loadDevice() {
  try {
    const saved = JSON.parse(localStorage.getItem(DEVICE_KEY) || "null");
    if (saved?.token) return saved; // expiry: the server answers 401 and the phone asks for a new QR code
  } catch {
    // ignore
  }
  return null;
}

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
    device = { token: body.token, expires_at: body.expires_at, device_id: body.device_id, sitting_id: body.sitting_id };
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
    session?.stop();
    session = null;
    await claim(token);
  }
  if (!device) return render();
  session = new DeviceSession({
    role: "aux",
    sittingId: device.sitting_id,
    token: () => device?.token,
    stream: () => getStream({ video: { facingMode: "environment", width: { max: 1280 }, height: { max: 1280 }, frameRate: { ideal: 15, max: 30 } }, audio: true }),
    onChange: () => render(),
    onClosed: (reason) => {
      if (reason === "unauthorized" || reason === "superseded") {
        localStorage.removeItem(DEVICE_KEY);
      }
      render();
    },
  });
  render();
  try {
    await session.start();
    const stream = await session.getStream();
    video = preview(stream);
  } catch (error) {
    message = error.status ? errorText(error) : t("err.camera");
  }
  render();
}

function render() {
  if (renderQueued) return;
  renderQueued = true;
  const paint = () => {
    if (!renderQueued) return;
    renderQueued = false;
    renderNow();
  };
  requestAnimationFrame(paint);
  setTimeout(paint, 300); // no animation frames in a hidden page
}

let lastSignature = null;

/** What the screen shows but countdowns and upload numbers (patched in place). */
function signature() {
  const p = session?.capture.status();
  return JSON.stringify([
    getLang(), stage(), session?.state, session?.peerOnline, session?.channelStatus, session?.closedReason, message,
    Boolean(video), session?.capture.recorder.recording, p && progressKey(p), navigator.onLine,
  ]);
}

function renderNow(force = false) {
  const sig = signature();
  if (sig === lastSignature && !force) {
    if (session) patchProgress(root, session.capture.status());
    return;
  }
  lastSignature = sig;
  const state = session?.state;
  const pills = session?.sitting
    ? [
        h("span", { class: `pill ${session.peerOnline ? "pill-ok" : "pill-bad"}`, dataset: { test: "main-status", online: String(session.peerOnline) } }, session.peerOnline ? t("aux.main_online") : t("aux.main_offline")),
        h("span", { class: "pill", dataset: { test: "state", state } }, t(`state.${state}`)),
      ]
    : null;
  mount(root, header(t("aux.title"), pills), h("main", { dataset: { stage: stage() } }, body()));
}

function stage() {
  if (claiming) return "claiming";
  if (!device || session?.closedReason) return "unpaired";
  const state = session?.state;
  if (!state) return "loading";
  if (FINAL_STATES.has(state)) return "final";
  if (state === "answering") return "recording";
  if (state === "recorded") return "upload";
  return "guide";
}

function body() {
  const s = session;
  const st = stage();
  const notices = [
    message && h("div", { class: "banner banner-bad", dataset: { test: "error" } }, message),
    s?.channelStatus === "down" && h("div", { class: "banner banner-warn", dataset: { test: "reconnecting" } }, navigator.onLine ? t("net.reconnecting") : t("net.offline")),
  ];
  if (st === "claiming") return [notices, h("p", { class: "muted" }, t("aux.claiming"))];
  if (st === "unpaired") {
    const reason = s?.closedReason === "superseded" ? t("sitting.superseded") : null;
    return [notices, reason && h("div", { class: "banner banner-bad", dataset: { test: "superseded" } }, reason), h("section", { class: "card", dataset: { test: "unpaired" } }, h("h2", {}, t("aux.title")), h("p", {}, t("aux.no_pair")))];
  }
  if (st === "loading") return [notices, h("p", { class: "muted" }, t("common.loading"))];
  const w = s.windows;
  const preview_ = h("div", { class: "preview-wrap" }, video, s.capture.recorder.recording && h("span", { class: "pill pill-live rec" }, "REC"));
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
        countdownEl(w.answer_starts_at, "wait.countdown", "big-countdown"),
        h("p", { class: "muted small" }, t("aux.repair")),
      ),
    ];
  }
  if (st === "recording") {
    const recording = s.capture.recorder.recording;
    return [
      notices,
      h(
        "section",
        { class: "card", dataset: { test: "recording-card" } },
        h("div", { class: "spread" }, h("h2", {}, t("aux.recording")), h("span", { class: `pill ${recording ? "pill-live" : "pill-bad"}`, dataset: { test: "recording", recording: String(recording) } }, recording ? t("answer.recording") : t("answer.not_recording"))),
        countdownEl(w.answer_ends_at, "answer.remaining", "big-countdown"),
        preview_,
        h("p", { class: "muted" }, t("aux.follow")),
        uploadLine(s.capture.status()),
      ),
    ];
  }
  if (st === "upload") return [notices, uploadPanel(s.capture.status())];
  const state = s.state;
  const text = {
    absent: t("final.absent"),
    terminated: t("final.terminated", { reason: s.sitting.terminated_reason || "" }),
    incomplete: t("final.incomplete"),
    uploaded: t("final.uploaded"),
  }[state];
  const progress = s.capture.status();
  return [
    notices,
    h("div", { class: `banner ${state === "uploaded" ? "banner-ok" : "banner-bad"}`, dataset: { test: "final", state } }, text),
    (progress.written > 0 || progress.state === "verified") && uploadPanel(progress),
  ];
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
