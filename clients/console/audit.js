// Ops: the audit log — who did what and when: recordings watched (each link handed out), claims, flag verdicts,
// incidents, decisions. Per staff member (a select of the accounts) or per sitting (#/audit/SITTING_ID, linked from
// the sitting's review). An entry of an exam has its time in the exam's zone, others in UTC; every time is labelled.

import { t } from "/common/i18n.js";
import { DEFAULT_TIME_ZONE, errorText, h, mount, timeEl } from "/common/ui.js";
import { consolePage } from "./chrome.js";

const LIMIT = 200;

function when(iso) {
  // The API writes each time with its offset: an exam's Beijing time (+08:00) or UTC; another zone's offset is
  // shown as written, with that offset.
  if (/(Z|\+00:00)$/.test(iso)) return timeEl(iso, "UTC", { seconds: true });
  if (iso.endsWith("+08:00")) return timeEl(iso, DEFAULT_TIME_ZONE, { seconds: true });
  return h("time", { datetime: iso }, iso.replace("T", " ").replace(/\.\d+/, ""));
}

export function page(root, ctx, sittingId) {
  let staff = [];
  let entries = null;
  let error = null;
  const filters = { actor: "", action: "" };

  async function load() {
    try {
      staff = staff.length ? staff : await ctx.api.get("/api/v1/ops/staff");
      if (sittingId) entries = await ctx.api.get(`/api/v1/ops/sittings/${sittingId}/audit?limit=${LIMIT}`);
      else {
        const query = new URLSearchParams({ limit: String(LIMIT) });
        if (filters.actor) query.set("actor_id", filters.actor);
        if (filters.action) query.set("action", filters.action);
        entries = await ctx.api.get(`/api/v1/ops/audit?${query}`);
      }
      error = null;
    } catch (e) {
      error = errorText(e);
    }
    render();
  }

  function who(entry) {
    const member = staff.find((s) => s.id === entry.actor_id);
    if (member) return `${member.display_name || member.username} (${t(`console.role.${member.role}`)})`;
    return t(`console.audit.actor_${entry.actor_kind}`) === `console.audit.actor_${entry.actor_kind}` ? entry.actor_kind : t(`console.audit.actor_${entry.actor_kind}`);
  }

  function row(entry) {
    const details = Object.entries(entry.details || {})
      .filter(([, v]) => v !== null && typeof v !== "object")
      .map(([k, v]) => `${k}=${v}`)
      .join(" · ");
    return h(
      "tr",
      { dataset: { test: "audit-entry", action: entry.action } },
      h("td", {}, when(entry.at)),
      h("td", { dataset: { test: "audit-who" } }, who(entry)),
      h("td", {}, h("code", {}, entry.action)),
      h("td", { class: "muted small" }, `${entry.target_kind}${entry.target_id ? ` ${entry.target_id.slice(0, 8)}` : ""}`),
      h("td", { class: "muted small" }, details),
    );
  }

  function controls() {
    if (sittingId) return h("p", { class: "muted" }, t("console.audit.of_sitting"), " ", h("a", { href: `#/sitting/${sittingId}` }, t("console.audit.back_to_sitting")));
    return h(
      "div",
      { class: "filters" },
      h(
        "label",
        {},
        t("console.audit.staff"),
        h(
          "select",
          { dataset: { test: "audit-actor" }, onchange: (e) => ((filters.actor = e.target.value), load()) },
          h("option", { value: "" }, t("console.queue.any")),
          staff.map((s) => h("option", { value: s.id, selected: filters.actor === s.id }, `${s.display_name || s.username} (${t(`console.role.${s.role}`)})`)),
        ),
      ),
      h(
        "label",
        {},
        t("console.audit.action"),
        h("input", {
          type: "search",
          value: filters.action,
          placeholder: "recording.link",
          dataset: { test: "audit-action" },
          onchange: (e) => ((filters.action = e.target.value.trim()), load()),
        }),
      ),
    );
  }

  function render() {
    const crumbs = [[t("console.sessions.crumb"), "#/sessions"], [t("console.audit.crumb")]];
    let body;
    if (!ctx.isOps) body = h("p", { class: "banner banner-bad" }, t("console.audit.ops_only"));
    else if (error) body = h("p", { class: "banner banner-bad", role: "alert" }, error);
    else if (!entries) body = h("p", { class: "muted" }, t("common.loading"));
    else
      body = [
        controls(),
        h(
          "table",
          { class: "grid", dataset: { test: "audit" } },
          h("thead", {}, h("tr", {}, ["at", "who", "action", "target", "details"].map((c) => h("th", {}, t(`console.audit.col_${c}`))))),
          h("tbody", {}, entries.map(row)),
        ),
        entries.length ? null : h("p", { class: "muted" }, t("console.audit.none")),
      ];
    mount(root, consolePage(ctx, crumbs, body));
  }

  render();
  if (ctx.isOps) load();
  return { render };
}
