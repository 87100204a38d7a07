// One sitting on the main phone: pairing (QR) → positioning guide → face check → waiting → answering (question,
// recording, countdown, early stop) → upload (progress, "上传完成" once the server verified the recording).

import { msUntil } from "/common/clock.js";
import { DeviceSession, FINAL_STATES } from "/common/device.js";
import { assessFrame, captureJpeg, getStream, preview } from "/common/media.js";
import { getLang, pick, t } from "/common/i18n.js";
import { confirmDialog, countdownEl, errorText, fmtTime, h, header, mount, serverClockEl, toast, updateCountdowns } from "/common/ui.js";
import { patchProgress, progressKey, uploadLine, uploadPanel } from "/common/upload-view.js";

const deviceKey = (sittingId) => `dualcam.main.device.${sittingId}`;

function savedDevice(sittingId) {
  try {
    const saved = JSON.parse(localStorage.getItem(deviceKey(sittingId)) || "null");
    if (saved?.token) return saved; // expiry: the server answers 401 and the phone logs in again
  } catch {
    // ignore
  }
  return null;
}

export function sittingScreen(root, ctx, sittingId) {
  const view = new MainSitting(root, ctx, sittingId);
  view.start();
  return view;
}

class MainSitting {
  constructor(root, ctx, sittingId) {
    this.root = root;
    this.ctx = ctx;
    this.sittingId = sittingId;
    this.device = savedDevice(sittingId);
    this.session = null;
    this.video = null;
    this.offer = null;
    this.offerBusy = false;
    this.guideDone = localStorage.getItem(`dualcam.guide.${sittingId}`) === "1";
    this.face = { result: null, busy: false, error: null, live: null };
    this.showPairing = false;
    this.message = null;
    this.alive = true;
    this.renderQueued = false;
  }

  async start() {
    this.renderNow();
    try {
      if (!this.device) await this.login();
      this.session = new DeviceSession({
        role: "main",
        sittingId: this.sittingId,
        token: () => this.device?.token,
        stream: () => getStream(),
        onChange: () => this.render(),
        onClosed: (reason) => this.closed(reason),
      });
      await this.session.start();
      if (this.session.closedReason === "unauthorized" && this.ctx.token) {
        // The device token expired or was revoked: log this phone in again with the candidate's token.
        this.session.stop();
        localStorage.removeItem(deviceKey(this.sittingId));
        this.device = null;
        return this.start();
      }
      getStream().then((stream) => {
        this.video = preview(stream);
        this.render();
      }, (error) => {
        this.message = t("err.camera");
        this.session.events.report("camera_error", { error: String(error.message || error) });
        this.render();
      });
      this.timer = setInterval(() => this.tick(), 250);
    } catch (error) {
      this.message = errorText(error);
      this.renderNow();
    }
  }

  async login() {
    if (!this.ctx.token) {
      this.ctx.go("login");
      throw new Error("not logged in");
    }
    const body = await this.ctx.api.post(`/api/v1/candidate/sittings/${this.sittingId}/devices`, { role: "main" });
    this.device = { token: body.token, expires_at: body.expires_at, device_id: body.device_id };
    localStorage.setItem(deviceKey(this.sittingId), JSON.stringify(this.device));
  }

  closed(reason) {
    if (reason === "superseded") localStorage.removeItem(deviceKey(this.sittingId));
    this.render();
  }

  destroy() {
    this.alive = false;
    clearInterval(this.timer);
    this.session?.stop();
  }

  // --- rendering ---------------------------------------------------------------------------------------------

  /** Coalesce the many change notifications (ticks, progress) into one paint per frame. */
  render() {
    if (this.renderQueued || !this.alive) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      if (this.alive) this.renderNow();
    });
    setTimeout(() => {
      // requestAnimationFrame does not run in a hidden page; paint anyway so the state stays current
      if (this.renderQueued && document.visibilityState === "hidden") {
        this.renderQueued = false;
        this.renderNow();
      }
    }, 300);
  }

  stage() {
    const s = this.session;
    const state = s?.state;
    if (!state) return "loading";
    if (FINAL_STATES.has(state)) return "final";
    if (state === "answering") return "answer";
    if (state === "recorded") return "upload";
    if (!s.peerOnline) return "pair";
    if (!this.guideDone) return "guide";
    if (state === "ready" || this.face.result?.passed) return "wait";
    return "face";
  }

  /** Everything the screen shows but the countdowns and upload numbers (those are patched in place). */
  signature() {
    const s = this.session;
    const p = s?.capture.status();
    return JSON.stringify([
      getLang(), this.stage(), s?.state, s?.peerOnline, s?.paired, s?.channelStatus, s?.closedReason, s?.lastError?.code,
      this.message, this.offer?.token, this.offerBusy, this.guideDone, this.stage() !== "pair" && Boolean(this.video), this.showPairing,
      this.face.busy, this.face.result?.check_id, this.face.error?.code, s?.questions?.length ?? null,
      s?.capture.recorder.recording, p && progressKey(p), navigator.onLine,
    ]);
  }

  renderNow() {
    if (!this.alive) return;
    const s = this.session;
    const sig = this.signature();
    if (sig === this.lastSignature) {
      if (s) patchProgress(this.root, s.capture.status());
      return;
    }
    this.lastSignature = sig;
    const title = this.sittingTitle();
    if (s?.closedReason === "superseded") {
      mount(this.root, header(title), h("main", {}, h("div", { class: "banner banner-bad", dataset: { test: "superseded" } }, t("sitting.superseded"))));
      return;
    }
    const stage = this.stage();
    const focus = document.activeElement?.dataset?.action;
    mount(
      this.root,
      header(title, this.statusPills()),
      h(
        "main",
        { dataset: { stage } },
        this.message && h("div", { class: "banner banner-bad", dataset: { test: "error" } }, this.message),
        s?.lastError && s.lastError.status !== 401 && !s.lastError.isNetwork && h("div", { class: "banner banner-bad" }, errorText(s.lastError)),
        s?.channelStatus === "down" && h("div", { class: "banner banner-warn", dataset: { test: "reconnecting" } }, navigator.onLine ? t("net.reconnecting") : t("net.offline")),
        stage !== "loading" && stage !== "final" && this.steps(stage),
        this[`stage_${stage}`](),
      ),
    );
    if (focus) this.root.querySelector(`[data-action="${focus}"]`)?.focus();
  }

  sittingTitle() {
    const kind = this.session?.sitting?.kind;
    return `${t("app.main")}${kind ? ` · ${t(`sessions.kind.${kind}`)}` : ""}`;
  }

  statusPills() {
    const s = this.session;
    if (!s?.sitting) return null;
    return [
      h("span", { class: `pill ${s.peerOnline ? "pill-ok" : "pill-bad"}`, dataset: { test: "aux-status", online: String(s.peerOnline) } }, s.peerOnline ? t("sitting.aux_online") : t("sitting.aux_offline")),
      h("span", { class: "pill", dataset: { test: "state", state: s.state } }, t(`state.${s.state}`)),
    ];
  }

  steps(stage) {
    const order = ["pair", "guide", "face", "wait"];
    const index = { pair: 0, guide: 1, face: 2, wait: 3, answer: 4, upload: 4 }[stage] ?? 0;
    return h(
      "div",
      { class: "steps" },
      order.map((name, i) => h("div", { class: `step ${i < index ? "done" : i === index ? "current" : ""}` }, t(`sitting.step.${name === "wait" ? "wait" : name}`))),
    );
  }

  countdownTo(iso, label) {
    return countdownEl(iso, label, "big-countdown");
  }

  /** Four times a second: countdowns, the live picture hint, a fresh QR code when the old one expired. */
  tick() {
    updateCountdowns(this.root);
    const stage = this.stage();
    if (stage === "face") this.liveHint();
    if ((stage === "pair" || this.showPairing) && this.offer && msUntil(this.offer.expires_at) <= 0) this.newOffer();
  }

  stage_loading() {
    return h("p", { class: "muted" }, t("common.loading"));
  }

  // --- pairing -------------------------------------------------------------------------------------------------

  offerUsed() {
    return this.offer && this.session.pairedAt && this.session.pairedAt >= this.offerAt;
  }

  async newOffer() {
    if (this.offerBusy) return;
    this.offerBusy = true;
    try {
      this.offerAt = Date.now();
      this.offer = await this.session.api.post("/api/v1/device/pairing");
      this.session.paired = false;
    } catch (error) {
      this.message = errorText(error);
    }
    this.offerBusy = false;
    this.render();
  }

  pairingPanel() {
    const s = this.session;
    // A used code (the aux phone claimed it) or an expired one: make a new one for the next scan.
    if (!this.offer || msUntil(this.offer.expires_at) <= 0 || (s.paired && !s.peerOnline && this.offerBusy === false && this.offerUsed())) {
      this.newOffer();
      return h("p", { class: "muted" }, t("common.loading"));
    }
    const status = s.peerOnline ? "online" : s.paired ? "paired" : "waiting";
    return h(
      "div",
      { dataset: { test: "pairing" } },
      h("p", {}, t("pair.intro")),
      h("div", { class: "qr", dataset: { test: "qr" }, html: this.offer.qr_svg }),
      countdownEl(this.offer.expires_at, "pair.expires", "muted small center", "qr-expires"),
      h("div", { class: `banner ${status === "online" ? "banner-ok" : "banner-info"}`, dataset: { test: "pair-status", status } }, t(`pair.${status}`)),
      h("p", { class: "muted small" }, t("pair.link")),
      h("div", { class: "link-box", dataset: { test: "pair-url" } }, this.offer.url),
      h("button", { class: "btn btn-secondary btn-block", dataset: { action: "new-qr" }, onclick: () => this.newOffer() }, t("pair.new")),
    );
  }

  stage_pair() {
    return h("section", { class: "card" }, h("h2", {}, t("pair.title")), this.pairingPanel(), this.timesLine());
  }

  // --- positioning guide ---------------------------------------------------------------------------------

  stage_guide() {
    return h(
      "section",
      { class: "card", dataset: { test: "guide" } },
      h("h2", {}, t("guide.title")),
      h("div", { class: "banner banner-ok" }, t("pair.online")),
      h("div", { class: "preview-wrap" }, this.video),
      guideDiagram(),
      h("p", {}, t("guide.main")),
      h("p", {}, t("guide.aux")),
      h("p", { class: "muted" }, t("guide.tips")),
      h(
        "button",
        {
          class: "btn btn-block",
          dataset: { action: "guide-done" },
          onclick: () => {
            this.guideDone = true;
            localStorage.setItem(`dualcam.guide.${this.sittingId}`, "1");
            this.render();
          },
        },
        t("guide.done"),
      ),
    );
  }

  // --- face check ---------------------------------------------------------------------------------------------

  liveHint() {
    if (this.stage() !== "face" || !this.video) return;
    this.face.live = assessFrame(this.video);
    const el = this.root.querySelector("[data-test=live-hint]");
    if (el) {
      el.textContent = t(`face.live.${this.face.live.code}`);
      el.className = `banner ${this.face.live.code === "ok" ? "banner-ok" : "banner-warn"}`;
      el.dataset.code = this.face.live.code;
    }
  }

  async checkFace() {
    if (this.face.busy || !this.video) return;
    this.face.busy = true;
    this.face.error = null;
    this.render();
    try {
      const form = new FormData();
      form.append("image", await captureJpeg(this.video), "face.jpg");
      this.face.result = await this.session.api.postForm("/api/v1/device/face", form);
      if (this.face.result.state && this.session.sitting) this.session.sitting = { ...this.session.sitting, state: this.face.result.state };
      if (this.face.result.passed) toast(t("face.passed"));
      await this.session.refresh();
    } catch (error) {
      this.face.error = error;
    }
    this.face.busy = false;
    this.render();
  }

  stage_face() {
    const s = this.session;
    const w = s.windows;
    const result = this.face.result;
    const error = this.face.error;
    const notOpen = s.state === "scheduled";
    const cooldown = error?.code === "face_cooldown" ? error.details?.until : result?.cooldown_until;
    return h(
      "section",
      { class: "card", dataset: { test: "face" } },
      h("h2", {}, t("face.title")),
      h("p", {}, t("face.intro")),
      h("div", { class: "preview-wrap" }, this.video, h("div", { class: "face-frame" })),
      notOpen
        ? countdownEl(w.waiting_opens_at, "face.not_open", "banner banner-info", "face-not-open")
        : h("div", { class: "banner banner-ok", dataset: { test: "live-hint" } }, t(`face.live.${this.face.live?.code || "ok"}`)),
      result &&
        !result.passed &&
        h(
          "div",
          { dataset: { test: "face-result", passed: "false" } },
          result.counted && h("div", { class: "banner banner-bad" }, t("face.failed", { n: result.failures_in_row })),
          result.findings.map((f) => h("div", { class: "banner banner-warn", dataset: { finding: f.code } }, pick(f.message, f.message_en))),
        ),
      cooldown && msUntil(cooldown) > 0 && countdownEl(cooldown, "face.cooldown", "banner banner-warn", "cooldown"),
      error && error.code !== "face_cooldown" && h("div", { class: "banner banner-bad", dataset: { test: "face-error", code: error.code } }, errorText(error)),
      error?.code === "identity_not_verified" && h("a", { class: "btn btn-secondary btn-block", href: "#/identity" }, t("home.identity")),
      h(
        "button",
        { class: "btn btn-block", disabled: notOpen || this.face.busy || !this.video, dataset: { action: "face-check" }, onclick: () => this.checkFace() },
        this.face.busy ? t("face.checking") : t("face.capture"),
      ),
      this.timesLine(),
    );
  }

  // --- waiting -----------------------------------------------------------------------------------------------

  stage_wait() {
    const s = this.session;
    const ready = s.state === "ready";
    return h(
      "section",
      { class: "card", dataset: { test: "wait" } },
      h("h2", {}, t("wait.title")),
      h("div", { class: `banner ${ready ? "banner-ok" : "banner-warn"}`, dataset: { test: "ready", ready: String(ready) } }, ready ? t("wait.ready") : t("wait.not_ready")),
      this.face.result?.passed && h("div", { class: "banner banner-ok", dataset: { test: "face-passed" } }, t("face.passed")),
      this.countdownTo(s.windows.answer_starts_at, "wait.countdown"),
      h("div", { class: "preview-wrap" }, this.video),
      h("p", { class: "muted" }, t("wait.keep")),
    );
  }

  // --- answering ---------------------------------------------------------------------------------------------

  async stopEarly() {
    const yes = await confirmDialog(t("answer.stop_confirm"), t("answer.stop_yes"), t("answer.stop_no"));
    if (!yes) return;
    try {
      await this.session.stopEarly();
    } catch (error) {
      toast(errorText(error), "error");
    }
    this.render();
  }

  stage_answer() {
    const s = this.session;
    const recording = s.capture.recorder.recording;
    const questions = s.questions;
    return [
      !s.peerOnline && this.auxBanner(),
      h(
        "section",
        { class: "card", dataset: { test: "answer" } },
        h(
          "div",
          { class: "spread" },
          h("h2", {}, t("answer.question")),
          h("span", { class: `pill ${recording ? "pill-live" : "pill-bad"}`, dataset: { test: "recording", recording: String(recording) } }, recording ? t("answer.recording") : t("answer.not_recording")),
        ),
        questions === null
          ? h("p", { class: "muted" }, t("answer.waiting_question"))
          : questions.length
            ? questions.map((q) => h("div", { class: "question", dataset: { test: "question", id: q.id } }, questions.length > 1 ? `${q.position}. ${q.text}` : q.text))
            : h("p", { class: "muted" }, t("answer.no_questions")),
        this.countdownTo(s.windows.answer_ends_at, "answer.remaining"),
      ),
      h("div", { class: "preview-wrap" }, this.video, recording && h("span", { class: "pill pill-live rec" }, "REC")),
      h("button", { class: "btn btn-danger btn-block", dataset: { action: "stop" }, onclick: () => this.stopEarly() }, t("answer.stop")),
      uploadLine(s.capture.status()),
    ];
  }

  auxBanner() {
    return h(
      "div",
      { class: "banner banner-bad", dataset: { test: "aux-offline" } },
      t("sitting.aux_offline"),
      " ",
      h("button", { class: "btn-link", onclick: () => ((this.showPairing = !this.showPairing), this.render()) }, t("pair.new")),
      this.showPairing && this.pairingPanel(),
    );
  }

  uploadPanel() {
    const s = this.session;
    return uploadPanel(s.capture.status(), { deadline: s.windows?.upload_deadline, timeZone: this.ctx.exam?.timezone || "Asia/Shanghai" });
  }

  stage_upload() {
    return this.uploadPanel();
  }

  stage_final() {
    const s = this.session;
    const state = s.state;
    const text = {
      absent: t("final.absent"),
      terminated: t("final.terminated", { reason: s.sitting.terminated_reason || "" }),
      incomplete: t("final.incomplete"),
      uploaded: t("final.uploaded"),
    }[state];
    const hasRecording = s.capture.status().written > 0 || s.capture.status().state === "verified";
    return [
      h("div", { class: `banner ${state === "uploaded" ? "banner-ok" : "banner-bad"}`, dataset: { test: "final", state } }, text),
      hasRecording && this.uploadPanel(),
      h("a", { class: "btn btn-secondary btn-block", href: "#/sessions" }, t("common.back")),
    ];
  }

  timesLine() {
    const w = this.session.windows;
    if (!w) return null;
    const tz = this.ctx.exam?.timezone || "Asia/Shanghai";
    return h(
      "p",
      { class: "muted small" },
      `${t("sessions.waiting_opens")} ${fmtTime(w.waiting_opens_at, tz)} · ${t("sessions.answer_starts")} ${fmtTime(w.answer_starts_at, tz)} · `,
      serverClockEl(tz),
    );
  }
}

/** The two phones seen from above: candidate, desk, main in front, aux behind to the side at ~45°. */
function guideDiagram() {
  const svg = `<svg viewBox="0 0 240 160" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="positioning">
  <rect x="70" y="60" width="100" height="40" rx="4" fill="#d0d7de"/>
  <circle cx="120" cy="115" r="14" fill="#57606a"/>
  <rect x="112" y="20" width="16" height="28" rx="3" fill="#1f6feb"/>
  <text x="120" y="14" font-size="11" text-anchor="middle" fill="#1f6feb">主机位 1 m</text>
  <rect x="200" y="132" width="16" height="24" rx="3" fill="#bc4c00" transform="rotate(-45 208 144)"/>
  <text x="196" y="126" font-size="11" text-anchor="middle" fill="#bc4c00">辅机位 1.5 m</text>
  <line x1="120" y1="50" x2="120" y2="100" stroke="#1f6feb" stroke-dasharray="4"/>
  <line x1="200" y1="136" x2="128" y2="70" stroke="#bc4c00" stroke-dasharray="4"/>
</svg>`;
  return h("div", { class: "center", html: svg });
}
