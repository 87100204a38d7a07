// A grader's queue: the sittings to score by anonymous code, open ones first. Nothing here names a candidate.

import { t } from "/common/i18n.js";
import { errorText, h, mount } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import "./grading-strings.js";

export function page(root, ctx) {
  let queue = null;
  let error = null;

  async function load() {
    try {
      queue = await ctx.api.get("/api/v1/grading/queue");
    } catch (e) {
      error = errorText(e);
    }
    render();
  }

  function row(entry) {
    const done = entry.status === "submitted";
    return h(
      "tr",
      { dataset: { test: "grading-item", code: entry.code, status: entry.status } },
      h("td", {}, h("strong", {}, entry.code)),
      h("td", {}, entry.session_title, h("div", { class: "muted small" }, entry.exam_title)),
      h("td", {}, h("span", { class: `pill ${done ? "pill-ok" : ""}` }, t(`console.grading.status_${entry.status}`))),
      h("td", {}, entry.total === null ? "—" : String(entry.total)),
      h("td", { class: "actions" }, h("a", { class: "btn", href: `#/grade/${entry.sheet_id}`, dataset: { action: "grade" } }, t(done ? "console.grading.view" : "console.grading.open"))),
    );
  }

  function render() {
    let body;
    if (error) body = h("p", { class: "banner banner-bad", role: "alert" }, error);
    else if (!queue) body = h("p", { class: "muted" }, t("common.loading"));
    else if (!queue.length) body = h("p", { class: "muted", dataset: { test: "no-grading" } }, t("console.grading.none"));
    else
      body = h(
        "table",
        { class: "grid" },
        h("thead", {}, h("tr", {}, ["code", "session", "status", "total"].map((k) => h("th", {}, t(`console.grading.${k}`))), h("th", {}))),
        h("tbody", {}, queue.map(row)),
      );
    mount(root, consolePage(ctx, [[t("console.grading.crumb")]], h("section", { class: "card" }, h("p", { class: "muted" }, t("console.grading.intro")), body)));
  }

  render();
  load();
  return { render };
}
