// Ops: a session's questions (试题) — each text with its image, a new question with an optional image, a text
// corrected, an image attached to one already there. A timed session's questions freeze once its waiting window
// opens (server time): the page then only shows them. For practice sessions these are the pool attempts draw from.

import { serverNow } from "/common/clock.js";
import { t } from "/common/i18n.js";
import { errorText, h, mount, timeEl, toast } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import { Pictures, questionList } from "./pictures.js";

const IMAGE_TYPES = "image/jpeg,image/png";

export function page(root, ctx, sessionId) {
  const base = `/api/v1/ops/sessions/${sessionId}`;
  let pictures = new Pictures(ctx.api); // a fresh one per drawing; the last one's URLs go once the new list is up
  let session = null;
  let exam = null;
  let questions = null;
  let error = null;
  let busy = false;
  let editing = null; // the question whose text is being corrected

  const frozen = () => session.kind !== "practice" && session.waiting_opens_at && serverNow() >= Date.parse(session.waiting_opens_at);

  async function load() {
    try {
      session ??= await ctx.api.get(base);
      exam ??= await ctx.api.get(`/api/v1/ops/exams/${session.exam_id}`);
      questions = await ctx.api.get(`${base}/questions`);
      error = null;
    } catch (e) {
      error = errorText(e);
    }
    await render();
  }

  async function attach(questionId, file) {
    const form = new FormData();
    form.append("image", file, file.name);
    await ctx.api.putForm(`${base}/questions/${questionId}/image`, form);
  }

  async function work(fn, done) {
    busy = true;
    await render();
    try {
      await fn();
      toast(t(done), "ok");
    } catch (e) {
      toast(errorText(e), "bad");
    }
    busy = false;
    await load();
  }

  function add(e) {
    e.preventDefault();
    const data = new FormData(e.target);
    const file = data.get("image");
    work(async () => {
      const question = await ctx.api.post(`${base}/questions`, { text: data.get("text") });
      if (file && file.size) await attach(question.id, file);
    }, "console.questions.added");
  }

  function editor(q) {
    const save = (e) => {
      e.preventDefault();
      const text = new FormData(e.target).get("text");
      editing = null;
      work(() => ctx.api.patch(`${base}/questions/${q.id}`, { text }), "console.questions.updated");
    };
    return h(
      "form",
      { class: "question-form", dataset: { test: "question-edit" }, onsubmit: save },
      h("textarea", { name: "text", required: true, maxlength: 20000, rows: 3, "aria-label": t("console.questions.text") }, q.text),
      h(
        "p",
        { class: "actions" },
        h("button", { class: "btn btn-small", type: "submit", dataset: { action: "save-question" } }, t("console.questions.save")),
        h("button", { class: "btn btn-small btn-secondary", type: "button", onclick: () => ((editing = null), render()) }, t("common.cancel")),
      ),
    );
  }

  async function item(q) {
    const shown =
      editing === q.id
        ? [h("p", {}, `${q.position}.`), editor(q)]
        : await questionList(pictures, [{ text: `${q.position}. ${q.text}`, image_url: q.has_image ? `${base}/questions/${q.id}/image` : null }]);
    const picker = h("input", {
      type: "file", accept: IMAGE_TYPES, class: "hidden", disabled: busy, dataset: { action: "attach-image" },
      onchange: (e) => e.target.files[0] && work(() => attach(q.id, e.target.files[0]), "console.questions.image_set"),
    }); // fmt: skip
    return h(
      "li",
      { class: "question-item", dataset: { test: "question-item", id: q.id, hasImage: String(q.has_image) } },
      shown,
      frozen() || editing === q.id
        ? null
        : h(
            "div",
            { class: "actions" },
            h("button", { class: "btn btn-small btn-secondary", type: "button", disabled: busy, dataset: { action: "edit-question" }, onclick: () => ((editing = q.id), render()) }, t("console.questions.edit")),
            h("label", { class: "btn btn-small btn-secondary" }, t(q.has_image ? "console.questions.replace_image" : "console.questions.attach_image"), picker),
          ),
    );
  }

  async function render() {
    const crumbs = [[t("console.sessions.crumb"), "#/sessions"], [session?.title || t("common.loading")], [t("console.questions.crumb")]];
    if (error || !questions) {
      mount(root, consolePage(ctx, crumbs, error ? h("p", { class: "banner banner-bad", role: "alert" }, error) : h("p", { class: "muted" }, t("common.loading"))));
      return;
    }
    const closed = frozen();
    const head = closed
      ? h("p", { class: "banner banner-warn", dataset: { test: "questions-frozen" } }, t("console.questions.frozen"), " ", timeEl(session.waiting_opens_at, exam.timezone))
      : h("p", { class: "muted small" }, t(session.kind === "practice" ? "console.questions.pool" : "console.questions.until"), " ", session.waiting_opens_at ? timeEl(session.waiting_opens_at, exam.timezone) : null);
    const form = closed
      ? null
      : h(
          "form",
          { class: "question-form", dataset: { test: "question-form" }, onsubmit: add },
          h("label", {}, t("console.questions.text"), h("textarea", { name: "text", required: true, maxlength: 20000, rows: 3, disabled: busy })),
          h("label", {}, t("console.questions.image"), h("input", { name: "image", type: "file", accept: IMAGE_TYPES, disabled: busy })),
          h("button", { class: "btn", type: "submit", disabled: busy, dataset: { action: "add-question" } }, t("console.questions.add")),
        );
    const previous = pictures;
    pictures = new Pictures(ctx.api);
    const list = questions.length
      ? h("ul", { class: "question-items", dataset: { test: "questions" } }, await Promise.all(questions.map(item)))
      : h("p", { class: "muted", dataset: { test: "no-questions" } }, t("console.questions.none"));
    mount(root, consolePage(ctx, crumbs, h("section", { class: "card question" }, h("h2", {}, t("console.questions.title"), h("span", { class: "muted small" }, ` · ${session.title}`)), head, list, form)));
    previous.release();
  }

  render();
  load();
  return { render, destroy: () => pictures.release() };
}
