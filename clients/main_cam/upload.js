// After the answer: the upload screen while the recording is sent, and the sitting's final state (with the upload
// panel where the phone recorded anything).

import { msUntil } from "/common/clock.js";
import { t, tParts } from "/common/i18n.js";
import { finalBanner } from "/common/sitting-view.js";
import { h, timeEl } from "/common/ui.js";
import { hasRecording, uploadPanel } from "/common/upload-view.js";
import { examTimeZone } from "./sitting-shared.js";

function panel(view) {
  const s = view.session;
  return uploadPanel(s.capture.status(), { deadline: s.windows?.upload_deadline, timeZone: examTimeZone(view) });
}

export function uploadStage(view) {
  return panel(view);
}

/**
 * What became of the sitting, and the way on: back to the sessions, or for practice a new attempt. `view.finished`
 * is the candidate's view of a sitting that was over before this phone logged in to it (no phone may log in then).
 */
export function finalStage(view) {
  const s = view.session;
  const sitting = s?.sitting ?? view.finished;
  const deadline = sitting.windows?.upload_deadline;
  const tz = examTimeZone(view);
  return [
    finalBanner({ state: s?.state ?? sitting.state, sitting, windows: s?.windows ?? sitting.windows, timeZone: tz }),
    s && hasRecording(s.capture.status()) && panel(view),
    deadline && msUntil(deadline) <= 0 &&
      h("p", { class: "muted small", dataset: { test: "deadline-passed" } }, tParts("sessions.deadline_passed", { time: timeEl(deadline, tz, { zoneFirst: true }) })),
    sitting.kind === "practice" && h("button", { class: "btn btn-block", dataset: { action: "practice-again" }, onclick: () => view.practiceAgain() }, t("final.practice_again")),
    h("a", { class: "btn btn-secondary btn-block", href: "#/sessions", dataset: { action: "back" } }, t("common.back")),
  ];
}
