// Answering (答题): the question (the server sends it only once the sitting is answering), the recording state, a
// countdown to the end, the preview (with the live stills' hint when no face was seen), bytes uploaded so far, and
// an early stop behind a confirmation.

import { t } from "/common/i18n.js";
import { previewWrap, recordingPill } from "/common/sitting-view.js";
import { confirmDialog, countdownEl, errorText, h, toast } from "/common/ui.js";
import { uploadLine } from "/common/upload-view.js";
import { auxOfflineBanner, replaceAuxLink } from "./pairing.js";
import { examTimeZone } from "./sitting-shared.js";

async function stopEarly(view) {
  const yes = await confirmDialog(t("answer.stop_confirm"), t("answer.stop_yes"), t("answer.stop_no"));
  if (!yes) return;
  try {
    await view.session.stopEarly();
  } catch (error) {
    toast(errorText(error), "error");
  }
  view.render();
}

function questionList(questions) {
  if (questions === null) return h("p", { class: "muted" }, t("answer.waiting_question"));
  if (!questions.length) return h("p", { class: "muted" }, t("answer.no_questions"));
  return questions.map((q) => h("div", { class: "question", dataset: { test: "question", id: q.id } }, questions.length > 1 ? `${q.position}. ${q.text}` : q.text));
}

export function answerStage(view) {
  const s = view.session;
  const recording = s.capture.recorder.recording;
  return [
    !s.peerOnline && auxOfflineBanner(view),
    h(
      "section",
      { class: "card", dataset: { test: "answer" } },
      h("div", { class: "spread" }, h("h2", {}, t("answer.question")), recordingPill(recording)),
      questionList(s.questions),
      countdownEl(s.windows.answer_ends_at, "answer.remaining", { className: "big-countdown", timeZone: examTimeZone(view) }),
    ),
    previewWrap(view.video, recording, view.stills.hint && h("div", { class: "banner banner-warn still-hint", role: "status", dataset: { test: "still-hint" } }, t("answer.keep_in_view"))),
    h("button", { class: "btn btn-danger btn-block", dataset: { action: "stop" }, onclick: () => stopEarly(view) }, t("answer.stop")),
    uploadLine(s.capture.status()),
    s.peerOnline && replaceAuxLink(view),
  ];
}
