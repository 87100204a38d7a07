// After the answer: the upload screen while the recording is sent, and the sitting's final state (with the upload
// panel where the phone recorded anything).

import { t } from "/common/i18n.js";
import { finalBanner } from "/common/sitting-view.js";
import { h } from "/common/ui.js";
import { hasRecording, uploadPanel } from "/common/upload-view.js";
import { examTimeZone } from "./sitting-shared.js";

function panel(view) {
  const s = view.session;
  return uploadPanel(s.capture.status(), { deadline: s.windows?.upload_deadline, timeZone: examTimeZone(view) });
}

export function uploadStage(view) {
  return panel(view);
}

export function finalStage(view) {
  return [
    finalBanner(view.session),
    hasRecording(view.session.capture.status()) && panel(view),
    h("a", { class: "btn btn-secondary btn-block", href: "#/sessions" }, t("common.back")),
  ];
}
