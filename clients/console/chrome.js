// The console's frame around every page once logged in: the bar with the pages, who is logged in, the language
// switch and log-out.

import { t } from "/common/i18n.js";
import { h, langButton } from "/common/ui.js";

/** The top bar; `crumbs` are [label, href?] pairs after the console's name. */
export function consoleBar(ctx, ...crumbs) {
  const trail = crumbs.map(([label, href]) => (href ? h("a", { href }, label) : h("span", {}, label)));
  return h(
    "header",
    { class: "topbar console-bar" },
    h("h1", {}, h("a", { href: ctx.staff.role === "grader" ? "#/grading" : "#/sessions" }, t("console.name"))),
    h("nav", { class: "crumbs" }, trail),
    h(
      "div",
      { class: "topbar-extra" },
      ctx.isOps ? h("a", { href: "#/audit", dataset: { nav: "audit" } }, t("console.audit.crumb")) : null,
      h("span", { class: "who", dataset: { test: "who" } }, `${ctx.staff.username} · ${t(`console.role.${ctx.staff.role}`)}`),
      h("button", { class: "btn-link", type: "button", dataset: { action: "logout" }, onclick: () => ctx.logout() }, t("common.logout")),
    ),
    langButton(),
  );
}

/** A page's body under the bar. */
export function consolePage(ctx, crumbs, ...children) {
  return [consoleBar(ctx, ...crumbs), h("main", { class: "console-main" }, ...children)];
}
