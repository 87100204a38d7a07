// Face check (人脸核验): the preview in a face frame with a live hint from the picture itself, then one frame sent to
// the server's gate, whose findings, failures in a row or cool-down come back on this screen.

import { msUntil } from "/common/clock.js";
import { pick, t } from "/common/i18n.js";
import { assessFrame, captureJpeg } from "/common/media.js";
import { countdownEl, errorText, h } from "/common/ui.js";
import { examTimeZone, timesLine } from "./sitting-shared.js";

export class FaceCheck {
  constructor(view) {
    this.view = view;
    this.result = null;
    this.busy = false;
    this.error = null;
    this.live = null;
  }

  /** Called by the tick: the hint is patched in place, the screen is not rebuilt for it. */
  liveHint() {
    const video = this.view.video;
    if (!video) return;
    this.live = assessFrame(video);
    const el = this.view.root.querySelector("[data-test=live-hint]");
    if (el) {
      el.textContent = t(`face.live.${this.live.code}`);
      el.className = `banner ${this.live.code === "ok" ? "banner-ok" : "banner-warn"}`;
      el.dataset.code = this.live.code;
    }
  }

  async check() {
    const view = this.view;
    if (this.busy || !view.video) return;
    this.busy = true;
    this.error = null;
    view.render();
    try {
      const form = new FormData();
      form.append("image", await captureJpeg(view.video), "face.jpg");
      this.result = await view.session.api.postForm("/api/v1/device/face", form);
      if (this.result.state && view.session.sitting) view.session.sitting = { ...view.session.sitting, state: this.result.state };
      await view.session.refresh();
    } catch (error) {
      this.error = error;
    }
    this.busy = false;
    view.render();
  }
}

export function faceStage(view) {
  const s = view.session;
  const face = view.face;
  const { result, error } = face;
  const notOpen = s.state === "scheduled";
  const cooldown = error?.code === "face_cooldown" ? error.details?.until : result?.cooldown_until;
  return h(
    "section",
    { class: "card", dataset: { test: "face" } },
    h("h2", {}, t("face.title")),
    h("p", {}, t("face.intro")),
    h("div", { class: "preview-wrap" }, view.video, h("div", { class: "face-frame" })),
    notOpen
      ? countdownEl(s.windows.waiting_opens_at, "face.not_open", { className: "banner banner-info", test: "face-not-open", timeZone: examTimeZone(view) })
      : h("div", { class: "banner banner-ok", dataset: { test: "live-hint" } }, t(`face.live.${face.live?.code || "ok"}`)),
    result &&
      !result.passed &&
      h(
        "div",
        { dataset: { test: "face-result", passed: "false" } },
        result.counted && h("div", { class: "banner banner-bad" }, t("face.failed", { n: result.failures_in_row })),
        result.findings.map((f) => h("div", { class: "banner banner-warn", dataset: { finding: f.code } }, pick(f.message, f.message_en))),
      ),
    cooldown && msUntil(cooldown) > 0 && countdownEl(cooldown, "face.cooldown", { className: "banner banner-warn", test: "cooldown", timeZone: examTimeZone(view), seconds: true }),
    error && error.code !== "face_cooldown" && h("div", { class: "banner banner-bad", dataset: { test: "face-error", code: error.code } }, errorText(error)),
    error?.code === "identity_not_verified" && h("a", { class: "btn btn-secondary btn-block", href: "#/identity" }, t("home.identity")),
    // While the picture is compared (seconds on a slow uplink) the button is disabled and says so.
    h(
      "button",
      { class: "btn btn-block", disabled: notOpen || face.busy || !view.video, "aria-busy": face.busy ? "true" : null, dataset: { action: "face-check" }, onclick: () => face.check() },
      face.busy ? [h("span", { class: "spinner", "aria-hidden": "true" }), t("face.checking")] : t("face.capture"),
    ),
    timesLine(view),
  );
}
