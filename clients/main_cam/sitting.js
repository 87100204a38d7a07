// One sitting on the main phone: pairing (QR) → positioning guide → face check → waiting → answering → upload. This
// module follows the sitting's state, picks the step and paints it; the device token and each step have their own
// modules.

import { DeviceSession, FINAL_STATES } from "/common/device.js";
import { getLang, t } from "/common/i18n.js";
import { LiveStills } from "/common/live-stills.js";
import { getStream, preview, releaseStream } from "/common/media.js";
import { replacedOtherLine, replacedScreen } from "/common/replaced-view.js";
import { errorBanner, paintScheduler, reconnectBanner, stateLabel, statusPills } from "/common/sitting-view.js";
import { errorText, h, header, mount, updateCountdowns } from "/common/ui.js";
import { patchProgress, progressKey } from "/common/upload-view.js";
import { answerStage } from "./answer.js";
import { FaceCheck, faceStage } from "./face-check.js";
import { guideDone, guideStage } from "./guide.js";
import { Pairing, pairStage } from "./pairing.js";
import { SittingDevice } from "./sitting-device.js";
import { examTimeZone } from "./sitting-shared.js";
import { finalStage, uploadStage } from "./upload.js";
import { QuestionImages } from "./question-images.js";
import { waitStage } from "./waiting.js";

const STAGES = {
  loading: () => h("p", { class: "muted" }, t("common.loading")),
  pair: pairStage,
  guide: guideStage,
  face: faceStage,
  wait: waitStage,
  answer: answerStage,
  upload: uploadStage,
  final: finalStage,
};

const STEPS = ["pair", "guide", "face", "wait"];

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
    this.device = new SittingDevice(ctx, sittingId);
    this.session = null;
    this.video = null;
    this.pairing = new Pairing(this);
    this.guideDone = guideDone(sittingId);
    this.face = new FaceCheck(this);
    this.stills = new LiveStills({ api: () => this.session.api, video: () => this.video, onChange: () => this.render() });
    this.images = new QuestionImages({ api: () => this.session.api, onChange: () => this.render() });
    this.message = null;
    this.finished = null; // the candidate's view of a sitting over before this phone logged in to it
    this.alive = true;
    this.render = paintScheduler(() => this.renderNow());
  }

  async start() {
    this.renderNow();
    try {
      await this.device.login();
      this.session = new DeviceSession({
        role: "main",
        sittingId: this.sittingId,
        token: () => this.device.token,
        stream: () => getStream(),
        onChange: () => this.render(),
        onClosed: (reason) => this.closed(reason),
      });
      await this.session.start();
      if (this.session.closedReason === "unauthorized" && this.ctx.token) {
        // The device token expired or was revoked: log this phone in again with the candidate's token.
        this.session.stop();
        this.device.reset();
        return this.start();
      }
      if (this.session.closedReason) return; // replaced while away: the screen says so, the camera stays off
      getStream().then((stream) => {
        if (this.session?.closedReason) return;
        this.video = preview(stream);
        this.render();
      }, (error) => {
        this.message = t("err.camera");
        this.session.events.report("camera_error", { error: String(error.message || error) });
        this.render();
      });
      this.timer = setInterval(() => this.tick(), 250);
    } catch (error) {
      if (error?.code === "sitting_closed" && this.ctx.token && (await this.showFinished())) return;
      this.message = errorText(error);
      this.renderNow();
    }
  }

  /** The sitting was over before this phone logged in to it: what became of it, from the candidate's own view. */
  async showFinished() {
    try {
      this.finished = await this.ctx.api.get(`/api/v1/candidate/sittings/${this.sittingId}`);
    } catch {
      return false;
    }
    this.renderNow();
    return true;
  }

  /** A new practice attempt after this one ended (the server answers the open one if there is one). */
  async practiceAgain() {
    const sitting = this.session?.sitting ?? this.finished;
    if (!this.ctx.token) return this.ctx.go("login");
    try {
      const next = await this.ctx.api.post(`/api/v1/candidate/practice/${sitting.session_id}/attempts`);
      this.ctx.go(`sitting/${next.id}`);
    } catch (error) {
      this.message = errorText(error);
      this.render();
    }
  }

  closed(reason) {
    if (reason === "superseded") {
      // Another phone is the main camera now: the camera goes off here once recording has stopped.
      this.session.halted.then(() => releaseStream());
      this.video = null;
      clearInterval(this.timer);
      this.stills.stop();
    }
    this.render();
  }

  /** "在本机重新登录": a new device token with the candidate's log-in takes the main role back (the other phone
   * gets the replaced screen); the recording this phone kept goes on where it stopped, and its unsent chunks go up. */
  async relogin() {
    if (this.relogging) return;
    this.relogging = true;
    this.message = null;
    this.render();
    try {
      await this.session.halted; // the old recorder and uploader are out before the new ones start
      this.device.reset();
      await this.device.login(); // without a candidate log-in: to the log-in screen, and back here after it
      this.session.stop();
      this.session = null;
      this.lastSignature = null;
      await this.start();
    } catch (error) {
      // The replaced screen stays, with why (its button tries again).
      if (this.alive && this.ctx.token) this.message = errorText(error);
      else if (this.alive && !this.ctx.token) {
        this.ctx.afterLogin = `sitting/${this.sittingId}`;
        this.ctx.go("login");
      }
    } finally {
      this.relogging = false;
      this.render();
    }
  }

  destroy() {
    this.alive = false;
    clearInterval(this.timer);
    this.stills.stop();
    this.images.stop();
    this.session?.stop();
  }

  stage() {
    const s = this.session;
    if (this.finished) return "final";
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

  /** Four times a second: countdowns, the live picture hint, the live stills while recording the answer, a fresh
   * QR code when the old one expired. */
  tick() {
    updateCountdowns(this.root);
    const stage = this.stage();
    if (stage === "face") this.face.liveHint();
    const s = this.session;
    if (stage === "answer" && s.capture.recorder.recording && !s.closedReason) this.stills.run(s.liveStillSeconds);
    else this.stills.stop();
    if (stage === "answer") this.images.want(s.questions);
    if (stage === "pair" || this.pairing.shown) this.pairing.renewIfExpired();
    if (this.pairing.shown && this.pairing.used() && this.session?.peerOnline) {
      this.pairing.shown = false; // the code was scanned and the new aux phone is here: done
      this.render();
    }
  }

  /** Everything the screen shows but the countdowns and upload numbers (those are patched in place). */
  signature() {
    const s = this.session;
    const p = s?.capture.status();
    const stage = this.stage();
    return JSON.stringify([
      getLang(), stage, s?.state ?? this.finished?.state, s?.peerOnline, s?.paired, s?.channelStatus, s?.closedReason, s?.lastError?.code,
      this.message, this.pairing.offer?.token, this.pairing.busy, this.guideDone, stage !== "pair" && Boolean(this.video), this.pairing.shown,
      this.face.busy, this.face.result?.check_id, this.face.error?.code, s?.questions?.length ?? null, this.images.key(), this.stills.hint,
      s?.capture.recorder.recording, p && progressKey(p), navigator.onLine, Boolean(this.relogging), this.device.device?.replaced_at,
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
    const kind = (s?.sitting ?? this.finished)?.kind;
    const title = `${t("app.main")}${kind ? ` · ${t(`sessions.kind.${kind}`)}` : ""}`;
    if (s?.closedReason === "superseded") {
      const screen = replacedScreen({
        notice: s.replaced,
        role: "main",
        fallbackSupport: this.ctx.exam?.support ?? null,
        onRelogin: () => this.relogin(),
        busy: Boolean(this.relogging),
        error: this.message,
      });
      mount(this.root, header(title), h("main", { dataset: { stage: "replaced" } }, screen));
      return;
    }
    const stage = this.stage();
    const focus = document.activeElement?.dataset?.action;
    mount(
      this.root,
      header(title, stage === "final" ? finalPill(s, this.finished) : statusPills(s, "aux-status", t("sitting.aux_online"), t("sitting.aux_offline"))),
      h(
        "main",
        { dataset: { stage } },
        errorBanner(this.message),
        replacedOtherLine(this.device.device?.replaced_at, this.device.device?.timezone || examTimeZone(this)),
        // A finished sitting says what became of it once: the server's "sitting closed" on the way is not news.
        stage !== "final" && s?.lastError && s.lastError.status !== 401 && !s.lastError.isNetwork && h("div", { class: "banner banner-bad" }, errorText(s.lastError)),
        reconnectBanner(s),
        stage !== "loading" && stage !== "final" && steps(stage),
        STAGES[stage](this),
      ),
    );
    // The screen was rebuilt: keep the keyboard focus on the same button.
    if (focus) this.root.querySelector(`[data-action="${focus}"]`)?.focus();
  }
}

/** A finished sitting's state alone in the top bar (whether the aux phone is still online no longer matters). */
function finalPill(session, finished) {
  const sitting = session?.sitting ?? finished;
  const state = session?.state ?? finished.state;
  return h("span", { class: "pill", dataset: { test: "state", state } }, stateLabel(sitting, state));
}

/** The step bar: answering and uploading come after all four steps. */
function steps(stage) {
  const index = STEPS.includes(stage) ? STEPS.indexOf(stage) : STEPS.length;
  return h(
    "div",
    { class: "steps" },
    STEPS.map((name, i) => h("div", { class: `step ${i < index ? "done" : i === index ? "current" : ""}` }, t(`sitting.step.${name}`))),
  );
}
