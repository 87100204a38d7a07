// The exams the staff member may read, each with its sessions: the way into a session's live dashboard and its
// review queue. Times are in each exam's zone, labelled.

import { t } from "/common/i18n.js";
import { errorText, h, mount, timeEl } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import "./setup-strings.js";

export function page(root, ctx) {
  let exams = null;
  let error = null;

  async function load() {
    try {
      const list = await ctx.api.get("/api/v1/ops/exams");
      exams = await Promise.all(list.map(async (exam) => ({ exam, sessions: await ctx.api.get(`/api/v1/ops/exams/${exam.id}/sessions`) })));
    } catch (e) {
      error = errorText(e);
    }
    render();
  }

  function sessionRow(session, zone) {
    const when = session.answer_starts_at
      ? [timeEl(session.answer_starts_at, zone), " – ", timeEl(session.answer_ends_at, zone)]
      : t("console.sessions.any_time");
    return h(
      "tr",
      { dataset: { test: "session", sessionId: session.id } },
      h("td", {}, session.title),
      h("td", {}, t(`console.kind.${session.kind}`)),
      h("td", {}, when),
      h(
        "td",
        { class: "actions" },
        h("a", { class: "btn btn-secondary", href: `#/session/${session.id}`, dataset: { action: "dashboard" } }, t("console.sessions.dashboard")),
        h("a", { class: "btn", href: `#/queue/${session.id}`, dataset: { action: "queue" } }, t("console.sessions.queue")),
        ctx.isOps ? h("a", { class: "btn btn-secondary", href: `#/questions/${session.id}`, dataset: { action: "questions" } }, t("console.sessions.questions")) : null,
        ctx.isOps && session.kind !== "practice" ? h("a", { class: "btn btn-secondary", href: `#/results/${session.id}`, dataset: { action: "results" } }, t("console.sessions.results")) : null,
      ),
    );
  }

  function render() {
    let body;
    if (error) body = h("p", { class: "banner banner-bad", role: "alert" }, error);
    else if (!exams) body = h("p", { class: "muted" }, t("common.loading"));
    else if (!exams.length) body = h("p", { class: "muted", dataset: { test: "no-exams" } }, t(ctx.isOps ? "console.sessions.none_ops" : "console.sessions.none_assigned"));
    else
      body = exams.map(({ exam, sessions }) =>
        h(
          "section",
          { class: "card", dataset: { test: "exam", examId: exam.id } },
          h(
            "h2",
            {},
            exam.title,
            h("span", { class: "muted small" }, ` · ${exam.organizer}`),
            ctx.isOps ? h("a", { class: "btn btn-small btn-secondary exam-link", href: `#/roster/${exam.id}`, dataset: { action: "roster" } }, t("console.sessions.roster")) : null,
            ctx.isOps ? h("a", { class: "btn btn-small btn-secondary exam-link", href: `#/session-new/${exam.id}`, dataset: { action: "new-session" } }, t("console.setup.new_session")) : null,
          ),
          h(
            "table",
            { class: "grid" },
            h("thead", {}, h("tr", {}, h("th", {}, t("console.sessions.title")), h("th", {}, t("console.sessions.kind")), h("th", {}, t("console.sessions.window")), h("th", {}))),
            h("tbody", {}, sessions.map((s) => sessionRow(s, exam.timezone))),
          ),
        ),
      );
    const create = ctx.isOps ? h("p", { class: "actions" }, h("a", { class: "btn", href: "#/exam-new", dataset: { action: "new-exam" } }, t("console.setup.new_exam"))) : null;
    mount(root, consolePage(ctx, [[t("console.sessions.crumb")]], create, body));
  }

  render();
  load();
  return { render };
}
