// Answering (答题): the question and its image (the server sends them only once the sitting is answering), the
// recording state, a countdown to the end, the preview (with the live stills' hint when no face was seen), bytes
// uploaded so far, and an early stop behind a confirmation.

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

/** A question's image: the picture (a tap enlarges it), a line while it loads, or a tap to try again. */
function questionImage(images, q) {
  const state = images.get(q.id);
  if (state?.url) {
    return h(
      "button",
      { class: "question-image", type: "button", "aria-label": t("answer.image_zoom"), onclick: () => images.zoom(q.id) },
      h("img", { src: state.url, alt: t("answer.image_alt"), dataset: { test: "question-image", id: q.id } }),
    );
  }
  if (state?.failed) {
    return h("button", { class: "btn btn-secondary btn-block", type: "button", dataset: { action: "image-retry", id: q.id }, onclick: () => images.retry(q.id) }, t("answer.image_failed"));
  }
  return h("p", { class: "muted", dataset: { test: "question-image-loading" } }, t("answer.image_loading"));
}

function questionList(questions, images) {
  if (questions === null) return h("p", { class: "muted" }, t("answer.waiting_question"));
  if (!questions.length) return h("p", { class: "muted" }, t("answer.no_questions"));
  return questions.map((q) => [
    h("div", { class: "question", dataset: { test: "question", id: q.id } }, questions.length > 1 ? `${q.position}. ${q.text}` : q.text),
    q.has_image && questionImage(images, q),
  ]);
}

/** The enlarged image over the whole screen; a tap anywhere closes it. */
function zoomedImage(images) {
  const url = images.zoomed && images.get(images.zoomed)?.url;
  if (!url) return null;
  return h(
    "div",
    { class: "image-zoom", role: "dialog", "aria-label": t("answer.image_alt"), dataset: { test: "question-image-zoom" }, onclick: () => images.zoom(null) },
    h("img", { src: url, alt: t("answer.image_alt") }),
    h("p", { class: "small" }, t("answer.image_close")),
  );
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
      questionList(s.questions, view.images),
      countdownEl(s.windows.answer_ends_at, "answer.remaining", { className: "big-countdown", timeZone: examTimeZone(view) }),
    ),
    previewWrap(view.video, recording, view.stills.hint && h("div", { class: "banner banner-warn still-hint", role: "status", dataset: { test: "still-hint" } }, t("answer.keep_in_view"))),
    h("button", { class: "btn btn-danger btn-block", dataset: { action: "stop" }, onclick: () => stopEarly(view) }, t("answer.stop")),
    uploadLine(s.capture.status()),
    s.peerOnline && replaceAuxLink(view),
    zoomedImage(view.images),
  ];
}
