// One sitting to score, blind: its code, the question (and its image), both recordings under one control (player.js), and the
// rubric as a form. A draft saves any of the items; submitting needs them all and locks the sheet.

import { pick, t } from "/common/i18n.js";
import { confirmDialog, errorText, fmtSeconds, h, mount, toast } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import { Pictures, questionList } from "./pictures.js";
import { RATES, syncedPlayer } from "./player.js";
import "./grading-strings.js";
import "./review-strings.js";

export function page(root, ctx, sheetId) {
  let sheet = null;
  let error = null;
  let player = null;
  let videos = [];
  let busy = false;
  const scores = {};
  const position = h("span", { class: "position", dataset: { test: "position" } });
  const controls = h("div", { class: "controls" });
  const form = h("div", { class: "grade-form" });
  const pictures = new Pictures(ctx.api);
  const questions = h("div");

  async function load() {
    try {
      sheet = await ctx.api.get(`/api/v1/grading/sheets/${sheetId}`);
      Object.assign(scores, sheet.scores);
      videos = sheet.videos.map((v) => ({ role: v.role, offset: v.offset_s, el: h("video", { playsinline: true, src: v.url, dataset: { test: `video-${v.role}` } }) }));
      player = syncedPlayer(videos, { span: sheet.answer_seconds, onTick: (at) => (position.textContent = `${fmtSeconds(at)} / ${fmtSeconds(sheet.answer_seconds)}`) });
      mount(questions, await questionList(pictures, sheet.questions));
    } catch (e) {
      error = errorText(e);
    }
    render();
  }

  const total = () => sheet.items.reduce((sum, item) => sum + (Number.isFinite(scores[item.key]) ? scores[item.key] : 0), 0);
  const locked = () => sheet.status === "submitted";

  function drawControls() {
    mount(
      controls,
      h("button", { class: "btn btn-small", dataset: { action: "back5" }, onclick: () => player.skip(-5) }, "−5 s"),
      h("button", { class: "btn btn-small", dataset: { action: "play" }, onclick: () => (player.toggle(), drawControls()) }, t(player.playing ? "console.review.pause" : "console.review.play")),
      h("button", { class: "btn btn-small", dataset: { action: "fwd5" }, onclick: () => player.skip(5) }, "+5 s"),
      h("label", {}, t("console.review.speed"), " ", h("select", { onchange: (e) => player.setRate(Number(e.target.value)) }, RATES.map((r) => h("option", { value: r, selected: r === player.rate }, `${r}×`)))),
      position,
    );
  }

  function item(it) {
    const steps = [];
    for (let p = 0; p <= it.max_points + 1e-9; p += it.step) steps.push(Math.round(p * 100) / 100);
    const band = (it.descriptors || []).map((d) => h("li", { class: "muted small" }, `${d.from}–${d.to}：${pick(d.text, d.text_en || d.text)}`));
    return h(
      "fieldset",
      { class: "grade-item", dataset: { test: "grade-item", key: it.key } },
      h("legend", {}, pick(it.label, it.label_en || it.label), " ", h("span", { class: "muted small" }, t("console.grading.max", { max: it.max_points, step: it.step }))),
      h(
        "select",
        {
          name: it.key,
          disabled: locked(),
          dataset: { test: `score-${it.key}` },
          onchange: (e) => {
            if (e.target.value === "") delete scores[it.key];
            else scores[it.key] = Number(e.target.value);
            drawSum();
          },
        },
        h("option", { value: "" }, "—"),
        steps.map((p) => h("option", { value: p, selected: scores[it.key] === p }, String(p))),
      ),
      band.length ? h("ul", { class: "bands" }, band) : null,
    );
  }

  const sum = h("p", { class: "grade-sum", dataset: { test: "grade-sum" } });
  const drawSum = () => (sum.textContent = t("console.grading.sum", { total: total(), max: sheet.maximum }));

  async function send(submit) {
    if (busy) return;
    const comment = form.querySelector("textarea")?.value.trim() || null;
    if (submit && !(await confirmDialog(t("console.grading.confirm_submit", { total: total() }), t("console.grading.submit"), t("common.cancel")))) return;
    busy = true;
    try {
      const url = `/api/v1/grading/sheets/${sheetId}${submit ? "/submit" : ""}`;
      const saved = submit ? await ctx.api.post(url, { scores, comment }) : await ctx.api.put(url, { scores, comment });
      Object.assign(sheet, { status: saved.status, total: saved.total, comment });
      toast(t(submit ? "console.grading.submitted" : "console.grading.saved"), "ok");
      drawForm();
    } catch (e) {
      toast(errorText(e), "bad");
    } finally {
      busy = false;
    }
  }

  function drawForm() {
    drawSum();
    mount(
      form,
      h("h3", {}, t("console.grading.form")),
      sheet.items.map(item),
      sum,
      h("label", {}, t("console.grading.comment"), h("textarea", { rows: 3, maxlength: 2000, disabled: locked(), dataset: { test: "comment" } }, sheet.comment || "")),
      locked()
        ? h("p", { class: "banner banner-ok", dataset: { test: "locked" } }, t("console.grading.submitted"))
        : h(
            "div",
            { class: "actions" },
            h("button", { class: "btn btn-secondary", type: "button", dataset: { action: "save" }, onclick: () => send(false) }, t("console.grading.save")),
            h("button", { class: "btn", type: "button", dataset: { action: "submit" }, onclick: () => send(true) }, t("console.grading.submit")),
          ),
    );
  }

  function render() {
    const crumbs = [[t("console.grading.crumb"), "#/grading"], [sheet ? sheet.code : t("common.loading")]];
    if (error || !sheet) {
      mount(root, consolePage(ctx, crumbs, error ? h("p", { class: "banner banner-bad", role: "alert" }, error) : h("p", { class: "muted" }, t("common.loading"))));
      return;
    }
    const pane = (v) => h("div", { class: "pane" }, h("div", { class: "pane-title" }, t(`app.${v.role}`)), v.el);
    const stage = h(
      "div",
      { class: "stage" },
      h("h2", { dataset: { test: "code" } }, sheet.code, " ", h("span", { class: "muted small" }, sheet.session_title)),
      videos.length ? h("div", { class: "videos" }, videos.map(pane)) : h("p", { class: "muted" }, t("console.grading.no_video")),
      controls,
      h("section", { class: "question" }, h("h3", {}, t("console.review.question")), questions),
    );
    mount(root, consolePage(ctx, crumbs, h("div", { class: "review" }, stage, form)));
    drawControls();
    drawForm();
  }

  render();
  load();
  return {
    render,
    destroy() {
      player?.destroy();
      pictures.release();
    },
  };
}
