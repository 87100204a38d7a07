// Ops: a session's grading and results. The rubric and graders at a glance, assigning the grading, the exam's
// conduct rules, the results table (live, or frozen once published, with its SHA-256), publishing and reopening,
// and the CSV/XLSX exports.

import { t } from "/common/i18n.js";
import { errorText, h, mount, timeEl, toast } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import { conductRulesCard } from "./conduct-rules.js";
import { saveFile } from "./files.js";
import { setupCard } from "./grading-setup.js";
import "./grading-strings.js";

// A result's reason: the sitting's state or why it is pending (labelled here), or a conduct reason code as is.
function reasonText(code) {
  if (!code) return "";
  const key = `result.reason.${code}`;
  const text = t(key);
  return text === key ? code : text;
}

export function page(root, ctx, sessionId) {
  let session = null;
  let plan = null;
  let results = null;
  let error = null;
  let reopening = false;
  let rulesCard = null; // made once: it keeps its own state across the table's reloads
  let scoring = null; // the sitting whose score ops are setting by hand
  const base = `/api/v1/ops/sessions/${sessionId}`;

  async function load() {
    try {
      session ??= await ctx.api.get(base);
      [plan, results] = await Promise.all([ctx.api.get(`${base}/grading`), ctx.api.get(`${base}/results`)]);
      error = null;
    } catch (e) {
      error = errorText(e);
    }
    render();
  }

  async function act(work) {
    try {
      await work();
    } catch (e) {
      toast(errorText(e), "bad");
    }
    await load();
  }

  const assign = () =>
    act(async () => {
      const done = await ctx.api.post(`${base}/grading/assign`);
      toast(t("console.results.assigned", { added: done.sheets_added, extra: done.extra_added }) + (done.short.length ? ` · ${t("console.results.short", { n: done.short.length })}` : ""), "ok");
    });
  const publish = (allowPending) => act(() => ctx.api.post(`${base}/results/publish`, { allow_pending: allowPending }));

  async function download(format) {
    try {
      const response = await ctx.api.request("GET", `${base}/results/export?format=${format}`, { raw: true });
      if (!response.ok) throw new Error(String(response.status));
      const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "")?.[1] || `results.${format}`;
      saveFile(await response.blob(), name);
    } catch (e) {
      toast(errorText(e), "bad");
    }
  }

  function planCard() {
    const card = setupCard(ctx, plan, base, load);
    card.addEventListener("assign", assign);
    return card;
  }

  function publication() {
    const p = results.published;
    if (p)
      return h(
        "div",
        { class: "banner banner-ok", dataset: { test: "published", version: p.version } },
        t("console.results.published", { version: p.version, sha: p.sha256 }),
        " · ",
        timeEl(p.published_at, results.timezone),
        reopening
          ? h(
              "form",
              {
                class: "inline-form",
                onsubmit: (e) => {
                  e.preventDefault();
                  const reason = new FormData(e.target).get("reason");
                  reopening = false;
                  act(() => ctx.api.post(`${base}/results/reopen`, { reason }));
                },
              },
              h("input", { name: "reason", required: true, maxlength: 500, placeholder: t("console.results.reopen_reason"), dataset: { test: "reopen-reason" } }),
              h("button", { class: "btn btn-small", type: "submit", dataset: { action: "reopen-confirm" } }, t("console.results.reopen")),
            )
          : h("button", { class: "btn btn-small btn-secondary", dataset: { action: "reopen" }, onclick: () => ((reopening = true), render()) }, t("console.results.reopen")),
      );
    const pending = results.counts.pending > 0;
    return h(
      "div",
      { class: "banner", dataset: { test: "not-published" } },
      t("console.results.not_published"),
      " ",
      h("button", { class: "btn btn-small", dataset: { action: "publish" }, onclick: () => publish(false), disabled: pending }, t("console.results.publish")),
      pending ? h("button", { class: "btn btn-small btn-secondary", dataset: { action: "publish-pending" }, onclick: () => publish(true) }, t("console.results.publish_pending")) : null,
    );
  }

  // A final score by hand, with the reason (a re-sit, a technical fault settled): it replaces the graders' result.
  function scoreForm(r) {
    const submit = (e) => {
      e.preventDefault();
      const form = new FormData(e.target);
      scoring = null;
      act(async () => {
        await ctx.api.put(`/api/v1/ops/sittings/${r.sitting_id}/score`, { score: Number(form.get("score")), reason: form.get("reason") });
        toast(t("console.results.score_set"), "ok");
      });
    };
    return h(
      "tr",
      { class: "score-form", dataset: { test: "score-form" } },
      h(
        "td",
        { colspan: 6 + results.grader_codes.length },
        h(
          "form",
          { class: "inline-form", onsubmit: submit },
          h("input", { name: "score", type: "number", required: true, min: 0, max: plan.maximum ?? undefined, step: "any", placeholder: t("console.results.score"), "aria-label": t("console.results.score") }),
          h("input", { name: "reason", required: true, maxlength: 500, placeholder: t("console.results.score_reason"), "aria-label": t("console.results.score_reason") }),
          h("button", { class: "btn btn-small", type: "submit", dataset: { action: "score-save" } }, t("console.results.score_save")),
          h("button", { class: "btn btn-small btn-secondary", type: "button", onclick: () => ((scoring = null), render()) }, t("common.cancel")),
        ),
      ),
    );
  }

  function row(r) {
    const settable = r.sitting_id && !results.published;
    const line = h(
      "tr",
      { dataset: { test: "result-row", candidateId: r.candidate_id, state: r.state } },
      h("td", {}, r.name, h("div", { class: "muted small" }, r.id_number_masked)),
      h("td", {}, r.grading_code || "—"),
      h("td", {}, h("span", { class: `pill result-${r.state}` }, t(`result.${r.state}`))),
      h("td", { dataset: { test: "score" } }, r.score === null ? "—" : r.score.toFixed(2)),
      results.grader_codes.map((code) => h("td", { class: "muted" }, r.graders[code] ?? "—")),
      h("td", { class: "small", dataset: { test: "reason", reason: r.reason } }, reasonText(r.reason)),
      h(
        "td",
        { class: "actions" },
        r.sitting_id ? h("a", { class: "btn-link small", href: `#/report/${r.sitting_id}` }, t("console.results.report")) : null,
        settable ? h("button", { class: "btn-link small", type: "button", dataset: { action: "set-score" }, onclick: () => ((scoring = r.sitting_id), render()) }, t("console.results.set_score")) : null,
      ),
    );
    return scoring === r.sitting_id && settable ? [line, scoreForm(r)] : line;
  }

  function render() {
    const crumbs = [[t("console.sessions.crumb"), "#/sessions"], [session?.title || t("common.loading")], [t("console.results.crumb")]];
    if (error || !results || !plan) {
      mount(root, consolePage(ctx, crumbs, error ? h("p", { class: "banner banner-bad", role: "alert" }, error) : h("p", { class: "muted" }, t("common.loading"))));
      return;
    }
    const counts = h("p", { class: "counts-line", dataset: { test: "counts" } }, Object.entries(results.counts).map(([state, n]) => h("span", { class: `pill result-${state}` }, `${t(`result.${state}`)} ${n}`)));
    const table = h(
      "table",
      { class: "grid", dataset: { test: "results" } },
      h("thead", {}, h("tr", {}, ["name", "code", "state", "score"].map((k) => h("th", {}, t(`console.results.${k}`))), results.grader_codes.map((c) => h("th", {}, c)), h("th", {}, t("console.results.reason")), h("th", {}))),
      h("tbody", {}, results.rows.map(row)),
    );
    const exports = h(
      "p",
      { class: "actions" },
      h("button", { class: "btn btn-small btn-secondary", dataset: { action: "export-csv" }, onclick: () => download("csv") }, t("console.results.export_csv")),
      h("button", { class: "btn btn-small btn-secondary", dataset: { action: "export-xlsx" }, onclick: () => download("xlsx") }, t("console.results.export_xlsx")),
    );
    rulesCard ??= conductRulesCard(ctx, session.exam_id, load);
    mount(root, consolePage(ctx, crumbs, h("div", { class: "results-page" }, h("div", {}, planCard(), rulesCard), h("section", { class: "card" }, publication(), counts, exports, table))));
  }

  render();
  load();
  return { render };
}
