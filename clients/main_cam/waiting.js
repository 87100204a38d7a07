// Waiting for the start (等待开考): ready or not (face passed, both phones online), a countdown in server time.

import { t } from "/common/i18n.js";
import { previewWrap } from "/common/sitting-view.js";
import { countdownEl, h } from "/common/ui.js";
import { replaceAuxLink } from "./pairing.js";

export function waitStage(view) {
  const s = view.session;
  const ready = s.state === "ready";
  return h(
    "section",
    { class: "card", dataset: { test: "wait" } },
    h("h2", {}, t("wait.title")),
    h("div", { class: `banner ${ready ? "banner-ok" : "banner-warn"}`, dataset: { test: "ready", ready: String(ready) } }, ready ? t("wait.ready") : t("wait.not_ready")),
    view.face.result?.passed && h("div", { class: "banner banner-ok", dataset: { test: "face-passed" } }, t("face.passed")),
    countdownEl(s.windows.answer_starts_at, "wait.countdown", "big-countdown"),
    previewWrap(view.video),
    h("p", { class: "muted" }, t("wait.keep")),
    replaceAuxLink(view),
  );
}
