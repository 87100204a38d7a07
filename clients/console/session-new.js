// Ops: a new session of an exam — formal or mock at fixed times (waiting window, answer window, upload deadline,
// typed in the exam's zone), or practice by durations from each attempt's start. Then on to its questions.

import { t } from "/common/i18n.js";
import { errorText, h, mount, toast, zoneLabel } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import { field, submit, values } from "./forms.js";
import "./setup-strings.js";

export function page(root, ctx, examId) {
  const problems = h("div");
  let exam = null;
  let error = null;
  let kind = "formal";

  async function load() {
    try {
      exam = await ctx.api.get(`/api/v1/ops/exams/${examId}`);
    } catch (e) {
      error = errorText(e);
    }
    render();
  }

  async function create(e) {
    e.preventDefault();
    const session = await submit(problems, () => ctx.api.post(`/api/v1/ops/exams/${examId}/sessions`, values(e.target)));
    if (!session) return;
    toast(t("console.setup.session_created"), "ok");
    ctx.go(`questions/${session.id}`);
  }

  // In place: a redraw would lose what was typed. Only the shown group is required (and sent: values() skips hidden).
  function rekind(value) {
    kind = value;
    for (const [test, shown] of [["timed", kind !== "practice"], ["practice", kind === "practice"]]) {
      const group = root.querySelector(`[data-test=${test}]`);
      group.hidden = !shown;
      for (const input of group.querySelectorAll("input")) input.required = shown;
    }
  }

  function render() {
    const crumbs = [[t("console.sessions.crumb"), "#/sessions"], [exam?.title || t("common.loading")], [t("console.setup.new_session")]];
    if (error || !exam) {
      mount(root, consolePage(ctx, crumbs, error ? h("p", { class: "banner banner-bad", role: "alert" }, error) : h("p", { class: "muted" }, t("common.loading"))));
      return;
    }
    const timed = kind !== "practice";
    const when = (name) => field(t(`console.setup.${name}`), h("input", { name, type: "datetime-local", required: timed }), t("console.setup.in_zone", { zone: zoneLabel(exam.timezone) }));
    const seconds = (name, value) => field(t(`console.setup.${name}`), h("input", { name, type: "number", min: 1, value, required: !timed }));
    mount(
      root,
      consolePage(
        ctx,
        crumbs,
        h(
          "section",
          { class: "card" },
          h("h2", {}, t("console.setup.new_session"), h("span", { class: "muted small" }, ` · ${exam.title}`)),
          h(
            "form",
            { class: "setup-form", dataset: { test: "session-form" }, onsubmit: create },
            field(
              t("console.setup.kind"),
              h("select", { name: "kind", onchange: (e) => rekind(e.target.value) }, ["formal", "mock", "practice"].map((k) => h("option", { value: k, selected: k === kind }, t(`console.kind.${k}`)))),
            ),
            field(t("console.setup.session_title"), h("input", { name: "title", required: true, maxlength: 200 })),
            h("fieldset", { hidden: !timed, dataset: { test: "timed" } }, when("waiting_opens_at"), when("answer_starts_at"), when("answer_ends_at"), when("upload_deadline")),
            h("fieldset", { hidden: timed, dataset: { test: "practice" } }, seconds("waiting_seconds", 120), seconds("answer_seconds", 600), seconds("upload_seconds", 3600)),
            problems,
            h("button", { class: "btn", type: "submit", dataset: { action: "create-session" } }, t("console.setup.create_session")),
          ),
        ),
      ),
    );
  }

  render();
  load();
  return { render };
}
