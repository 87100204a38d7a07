// One candidate's report for the file, on one printable A4 page (print CSS hides the console's frame): identity
// checks, both recordings' evidence, the flags in brief, the decision with its reasons, and the result.

import { t } from "/common/i18n.js";
import { errorText, fmtBytes, fmtSeconds, h, mount, timeEl } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import { flagLabel } from "./flag-kinds.js";
import "./grading-strings.js";
import "./review-strings.js";

export function page(root, ctx, sittingId) {
  let r = null;
  let error = null;

  async function load() {
    try {
      r = await ctx.api.get(`/api/v1/ops/sittings/${sittingId}/report`);
    } catch (e) {
      error = errorText(e);
    }
    render();
  }

  const line = (label, ...value) => h("tr", {}, h("th", {}, label), h("td", {}, ...value));

  function check(c) {
    if (!c) return h("span", { class: "muted" }, "—");
    const value = c.similarity === null ? t("console.review.no_face") : `${c.similarity.toFixed(2)} / ${c.threshold.toFixed(2)}`;
    return [h("span", { class: `pill ${c.passed ? "pill-ok" : "pill-bad"}` }, t(c.passed ? "console.report.passed" : "console.report.failed")), " ", value, " · ", timeEl(c.at, r.timezone, { seconds: true })];
  }

  function render() {
    const crumbs = [[t("console.sessions.crumb"), "#/sessions"], [t("console.report.crumb")]];
    if (error || !r) {
      mount(root, consolePage(ctx, crumbs, error ? h("p", { class: "banner banner-bad", role: "alert" }, error) : h("p", { class: "muted" }, t("common.loading"))));
      return;
    }
    const tz = r.timezone;
    const result = r.result;
    const d = r.decision;
    const body = h(
      "article",
      { class: "report", dataset: { test: "report" } },
      h("header", {}, h("h2", {}, t("console.report.title")), h("p", {}, r.exam_title, " · ", r.session_title), h("button", { class: "btn btn-small no-print", dataset: { action: "print" }, onclick: () => window.print() }, t("console.report.print"))),
      h("h3", {}, t("console.report.candidate")),
      h(
        "table",
        { class: "facts" },
        line(t("console.results.name"), r.name),
        line(t("console.results.id_number"), r.id_number_masked),
        line(t("console.report.roster_id"), h("code", {}, r.candidate_id)),
        line(t("console.report.window"), timeEl(r.answer_starts_at, tz, { seconds: true }), " – ", timeEl(r.answer_ends_at, tz, { seconds: true })),
        line(t("console.report.state"), t(`state.${r.sitting_state}`)),
        line(t("console.report.identity"), check(r.identity_check)),
        line(t("console.report.gate"), check(r.gate_check)),
      ),
      h("h3", {}, t("console.report.recordings")),
      h(
        "table",
        { class: "grid", dataset: { test: "report-recordings" } },
        h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "SHA-256"), h("th", {}, t("console.report.duration")), h("th", {}, t("console.report.size")), h("th", {}, t("console.report.verified_at")))),
        h(
          "tbody",
          {},
          r.recordings.map((x) =>
            h("tr", { dataset: { role: x.role } }, h("td", {}, t(`app.${x.role}`)), h("td", {}, h("code", { class: "hash" }, x.sha256 || "—")), h("td", {}, x.duration_s === null ? "—" : fmtSeconds(x.duration_s)), h("td", {}, x.size === null ? "—" : fmtBytes(x.size)), h("td", {}, x.verified_at ? timeEl(x.verified_at, tz, { seconds: true }) : "—")),
          ),
        ),
      ),
      h("h3", {}, t("console.report.flags")),
      h("p", { dataset: { test: "report-flags" } }, t("console.report.risk", { risk: r.risk }), " ", Object.entries(r.flag_kinds).map(([kind, n]) => h("span", { class: "pill pill-warn" }, `${flagLabel(kind)} × ${n}`))),
      h("h3", {}, t("console.report.decision")),
      d
        ? h("p", { dataset: { test: "report-decision" } }, t(`console.outcome.${d.outcome}`), d.reason_codes.length ? ` · ${d.reason_codes.join(", ")}` : "", d.note ? ` · ${d.note}` : "", h("br"), h("span", { class: "muted small" }, `${d.decided_by || ""} · `, timeEl(d.decided_at, tz), d.second_by ? ` · ${t("console.report.second", { who: d.second_by })}` : ""))
        : h("p", { class: "muted" }, t("console.report.no_decision")),
      h("h3", {}, t("console.report.result")),
      result
        ? h(
            "p",
            { class: "report-result", dataset: { test: "report-result", state: result.state } },
            h("span", { class: `pill result-${result.state}` }, t(`result.${result.state}`)),
            " ",
            h("strong", {}, result.score === null ? "—" : result.score.toFixed(2)),
            " ",
            Object.entries(result.graders).map(([code, total]) => h("span", { class: "muted small" }, ` ${code}: ${total ?? "—"}`)),
            r.published_version ? h("span", { class: "muted small" }, ` · ${t("console.report.version", { version: r.published_version })}`) : null,
          )
        : h("p", { class: "muted" }, "—"),
      Object.keys(r.comments).length ? h("h3", {}, t("console.report.comments")) : null,
      Object.keys(r.comments).length
        ? h("ul", { class: "report-comments", dataset: { test: "report-comments" } }, Object.entries(r.comments).map(([code, text]) => h("li", {}, h("strong", {}, `${code}：`), text)))
        : null,
    );
    mount(root, consolePage(ctx, crumbs, body));
  }

  render();
  load();
  return { render };
}
