// Waiting for the start (等待开考): ready or not (face passed, both phones online), a countdown in server time.

import { t } from "/common/i18n.js";
import { previewWrap } from "/common/sitting-view.js";
import { countdownEl, h } from "/common/ui.js";
import { replaceAuxLink } from "./pairing.js";
import { examTimeZone } from "./sitting-shared.js";

export function waitStage(view) {
  const s = view.session;
  const ready = s.state === "ready";
  // One line says where the candidate stands: "ready" already says the face check passed.
  const passed = view.face.result?.passed;
  const text = ready ? t("wait.ready") : passed ? t("wait.face_passed") : t("wait.not_ready");
  return h(
    "section",
    { class: "card", dataset: { test: "wait" } },
    h("h2", {}, t("wait.title")),
    h("div", { class: `banner ${ready ? "banner-ok" : passed ? "banner-info" : "banner-warn"}`, dataset: { test: "ready", ready: String(ready) } }, text),
    countdownEl(s.windows.answer_starts_at, "wait.countdown", { className: "big-countdown", timeZone: examTimeZone(view) }),
    previewWrap(view.video),
    h("p", { class: "muted" }, t("wait.keep")),
    replaceAuxLink(view),
  );
}
