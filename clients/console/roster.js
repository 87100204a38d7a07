// Ops: an exam's roster (考生名单). Import a CSV or XLSX with a zip of ID photos — checked first (all rows or none),
// then imported — and the access codes issued, shown once, to download as CSV; the roster a page at a time with each
// candidate's state; a new access code for one who lost theirs.

import { pick, t } from "/common/i18n.js";
import { confirmDialog, errorText, h, mount, timeEl, toast } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import { saveFile } from "./files.js";
import "./roster-strings.js";

const PAGE = 100;

/** Text for a CSV cell: quoted, and a leading formula character defused as the server's exports do. */
function cell(value) {
  const text = String(value ?? "");
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replaceAll('"', '""')}"`;
}

function codesCsv(rows) {
  const lines = [["姓名", "身份证号(掩码)", "手机号", "登录码"], ...rows.map((r) => [r.name, r.id_number_masked, r.phone, r.access_code])];
  return new Blob(["\ufeff" + lines.map((l) => l.map(cell).join(",")).join("\r\n") + "\r\n"], { type: "text/csv" });
}

// The server words each refusal in both languages, and names the column where one is at fault.
function rowError(error) {
  const text = pick(error.message, error.message_en);
  return error.column ? `${text}（${error.column}）` : text;
}

export function page(root, ctx, examId) {
  const base = `/api/v1/ops/exams/${examId}`;
  let exam = null;
  let roster = null;
  let offset = 0;
  let error = null;
  let busy = false;
  let outcome = null; // {kind: "checked" | "imported" | "rejected", ...} of the last import
  let reissued = null; // {name, access_code}

  async function load() {
    try {
      exam ??= await ctx.api.get(base);
      roster = await ctx.api.get(`${base}/candidates?offset=${offset}&limit=${PAGE}`);
      error = null;
    } catch (e) {
      error = errorText(e);
    }
    render();
  }

  async function send(form, dryRun) {
    const data = new FormData(form);
    const body = new FormData();
    body.append("csv_file", data.get("roster"));
    const photos = data.get("photos");
    if (photos && photos.size) body.append("photos", photos);
    busy = true;
    render();
    try {
      const result = await ctx.api.postForm(`${base}/roster?dry_run=${dryRun}`, body, { timeout: 120000 });
      outcome = dryRun ? { kind: "checked", rows: result.rows } : { kind: "imported", rows: result.rows, imported: result.imported };
      if (!dryRun) form.reset();
    } catch (e) {
      outcome = e.code === "roster_rejected" ? { kind: "rejected", rows: e.details.rows, rejected: e.details.rejected } : { kind: "failed", message: errorText(e) };
    }
    busy = false;
    await load();
  }

  async function reissue(c) {
    if (!(await confirmDialog(t("console.roster.reissue_confirm", { name: c.name }), t("console.roster.reissue"), t("common.cancel")))) return;
    try {
      const answer = await ctx.api.post(`/api/v1/ops/candidates/${c.id}/access-code`);
      reissued = { name: c.name, access_code: answer.access_code };
    } catch (e) {
      toast(errorText(e), "bad");
    }
    render();
  }

  function outcomeView() {
    if (!outcome) return null;
    if (outcome.kind === "checked") return h("p", { class: "banner banner-ok", dataset: { test: "roster-checked" } }, t("console.roster.checked", { rows: outcome.rows }));
    if (outcome.kind === "failed") return h("p", { class: "banner banner-bad", dataset: { test: "roster-failed" } }, outcome.message);
    if (outcome.kind === "rejected")
      return h(
        "div",
        { class: "banner banner-bad", dataset: { test: "roster-rejected" } },
        h("p", {}, t("console.roster.rejected", { rows: outcome.rows, bad: outcome.rejected.length })),
        h("ul", {}, outcome.rejected.map((r) => h("li", { dataset: { row: r.row } }, t("console.roster.row", { row: r.row }), ` ${r.name || ""}：`, r.errors.map(rowError).join("；")))),
      );
    return h(
      "div",
      { class: "banner banner-ok", dataset: { test: "roster-imported" } },
      h("p", {}, t("console.roster.imported", { n: outcome.imported.length }), " ", h("strong", {}, t("console.roster.codes_once"))),
      h("button", { class: "btn btn-small", type: "button", dataset: { action: "download-codes" }, onclick: () => saveFile(codesCsv(outcome.imported), `access-codes-${examId}.csv`) }, t("console.roster.download_codes")),
      h(
        "table",
        { class: "grid", dataset: { test: "issued-codes" } },
        h("thead", {}, h("tr", {}, ["name", "id_number", "phone", "code"].map((k) => h("th", {}, t(`console.roster.col_${k}`))))),
        h("tbody", {}, outcome.imported.map((r) => h("tr", {}, h("td", {}, r.name), h("td", {}, r.id_number_masked), h("td", {}, r.phone), h("td", { class: "code" }, r.access_code)))),
      ),
    );
  }

  function importForm() {
    let dryRun = true;
    return h(
      "form",
      {
        class: "roster-form",
        dataset: { test: "roster-form" },
        onsubmit: (e) => {
          e.preventDefault();
          send(e.target, dryRun);
        },
      },
      h("label", {}, t("console.roster.file"), h("input", { name: "roster", type: "file", required: true, accept: ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", disabled: busy })),
      h("label", {}, t("console.roster.photos"), h("input", { name: "photos", type: "file", accept: ".zip,application/zip", disabled: busy })),
      h(
        "p",
        { class: "actions" },
        h("button", { class: "btn btn-secondary", type: "submit", disabled: busy, dataset: { action: "check-roster" }, onclick: () => (dryRun = true) }, t("console.roster.check")),
        h("button", { class: "btn", type: "submit", disabled: busy, dataset: { action: "import-roster" }, onclick: () => (dryRun = false) }, t("console.roster.import")),
      ),
      h("p", { class: "muted small" }, t("console.roster.format")),
    );
  }

  function candidateRow(c) {
    return h(
      "tr",
      { dataset: { test: "candidate", candidateId: c.id } },
      h("td", {}, c.name),
      h("td", {}, c.id_number_masked),
      h("td", {}, c.phone),
      h("td", {}, c.has_photo ? t("console.roster.yes") : h("span", { class: "pill pill-warn" }, t("console.roster.no_photo"))),
      h("td", { class: "small" }, c.confirmed_at ? timeEl(c.confirmed_at, exam.timezone) : "—"),
      h("td", { class: "small" }, c.identity_verified_at ? timeEl(c.identity_verified_at, exam.timezone) : "—"),
      h("td", { class: "actions" }, h("button", { class: "btn-link small", type: "button", dataset: { action: "reissue" }, onclick: () => reissue(c) }, t("console.roster.reissue"))),
    );
  }

  function render() {
    const crumbs = [[t("console.sessions.crumb"), "#/sessions"], [exam?.title || t("common.loading")], [t("console.roster.crumb")]];
    if (error || !roster) {
      mount(root, consolePage(ctx, crumbs, error ? h("p", { class: "banner banner-bad", role: "alert" }, error) : h("p", { class: "muted" }, t("common.loading"))));
      return;
    }
    const pages = Math.ceil(roster.total / PAGE);
    const pager =
      pages > 1
        ? h(
            "p",
            { class: "actions" },
            h("button", { class: "btn btn-small btn-secondary", disabled: offset === 0, onclick: () => ((offset -= PAGE), load()) }, "‹"),
            h("span", { class: "muted small" }, ` ${offset / PAGE + 1} / ${pages} `),
            h("button", { class: "btn btn-small btn-secondary", disabled: offset + PAGE >= roster.total, onclick: () => ((offset += PAGE), load()) }, "›"),
          )
        : null;
    const table = h(
      "table",
      { class: "grid", dataset: { test: "roster" } },
      h("thead", {}, h("tr", {}, ["name", "id_number", "phone", "photo", "confirmed", "verified"].map((k) => h("th", {}, t(`console.roster.col_${k}`))), h("th", {}))),
      h("tbody", {}, roster.items.map(candidateRow)),
    );
    mount(
      root,
      consolePage(
        ctx,
        crumbs,
        h("section", { class: "card" }, h("h2", {}, t("console.roster.import_title")), importForm(), outcomeView()),
        h(
          "section",
          { class: "card" },
          h("h2", {}, t("console.roster.title"), h("span", { class: "muted small", dataset: { test: "roster-total" } }, ` · ${t("console.roster.total", { n: roster.total })}`)),
          reissued ? h("p", { class: "banner banner-ok", dataset: { test: "reissued" } }, t("console.roster.reissued", { name: reissued.name }), " ", h("strong", { class: "code" }, reissued.access_code)) : null,
          roster.total ? [table, pager] : h("p", { class: "muted" }, t("console.roster.empty")),
        ),
      ),
    );
  }

  render();
  load();
  return { render };
}
