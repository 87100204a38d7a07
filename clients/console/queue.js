// A session's review queue: the sittings that answered, highest risk first, with what the risk is made of; the audit
// sample (drawn among the low-risk ones so that no sitting is sure to go unwatched) is marked. Filters go to the API.

import { t } from "/common/i18n.js";
import { errorText, fmtSeconds, h, mount } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import { FLAG_KINDS, flagLabel } from "./flag-kinds.js";

const STATES = ["answering", "recorded", "uploaded", "terminated", "incomplete"];

export function page(root, ctx, sessionId) {
  const filters = { state: "", kind: "", reviewed: "" };
  let session = null;
  let queue = null;
  let error = null;

  async function load() {
    const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== ""));
    try {
      session ??= await ctx.api.get(`/api/v1/ops/sessions/${sessionId}`);
      queue = await ctx.api.get(`/api/v1/ops/sessions/${sessionId}/review-queue?${query}`);
      error = null;
    } catch (e) {
      error = errorText(e);
    }
    render();
  }

  function select(name, options) {
    return h(
      "label",
      {},
      t(`console.queue.filter_${name}`),
      h(
        "select",
        { name, dataset: { test: `filter-${name}` }, onchange: (event) => ((filters[name] = event.target.value), load()) },
        h("option", { value: "" }, t("console.queue.any")),
        options.map(([value, label]) => h("option", { value, selected: filters[name] === value }, label)),
      ),
    );
  }

  function reasons(risk) {
    if (!risk.reasons.length) return h("span", { class: "muted" }, t("console.queue.no_reasons"));
    return risk.reasons.map((r) => h("span", { class: "pill pill-warn reason", title: `${r.points} / ${r.weight}` }, r.seconds >= 1 ? `${flagLabel(r.kind)} ${fmtSeconds(r.seconds)}` : flagLabel(r.kind))); // an instant (a live check) has no length
  }

  function row(item) {
    return h(
      "tr",
      { dataset: { test: "queue-item", sittingId: item.sitting_id, audit: item.audit_sample ? "1" : "0" } },
      h("td", { class: "risk" }, h("strong", { dataset: { test: "risk" } }, String(item.risk.score))),
      h("td", {}, item.name, h("div", { class: "muted small" }, item.id_number_masked)),
      h("td", {}, t(`state.${item.state}`)),
      h("td", {}, reasons(item.risk), item.audit_sample && h("span", { class: "pill pill-live", dataset: { test: "audit" } }, t("console.queue.audit"))),
      h("td", { class: "muted small" }, ["main", "aux"].map((role) => `${t(`app.${role}`)}: ${t(`console.analysis.${item.analysis[role] || "none"}`)}`).join(" · ")),
    );
  }

  function render() {
    const title = session ? session.title : t("common.loading");
    let body;
    if (error) body = h("p", { class: "banner banner-bad", role: "alert" }, error);
    else if (!queue) body = h("p", { class: "muted" }, t("common.loading"));
    else
      body = [
        h(
          "div",
          { class: "filters" },
          select("state", STATES.map((s) => [s, t(`state.${s}`)])),
          select("kind", FLAG_KINDS.map((k) => [k, flagLabel(k)])),
          select("reviewed", [["false", t("console.queue.undecided")], ["true", t("console.queue.decided")]]),
        ),
        h("p", { class: "muted small" }, t("console.queue.policy", { risk: queue.min_risk, rate: Math.round(queue.audit_rate * 100) })),
        queue.items.length
          ? h(
              "table",
              { class: "grid", dataset: { test: "queue" } },
              h("thead", {}, h("tr", {}, ["risk", "candidate", "state", "reasons", "analysis"].map((c) => h("th", {}, t(`console.queue.${c}`))))),
              h("tbody", {}, queue.items.map(row)),
            )
          : h("p", { class: "muted", dataset: { test: "queue-empty" } }, t("console.queue.empty")),
      ];
    mount(root, consolePage(ctx, [[t("console.sessions.crumb"), "#/sessions"], [title], [t("console.sessions.queue")]], body));
  }

  render();
  load();
  return { render };
}
