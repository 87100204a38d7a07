// Ops: what a confirmed violation does to the result in this exam (零分 or 取消资格), reason by reason, starting
// from the conduct rules' defaults. Saving sends only the reasons set away from their default; the results table
// reloads, since the live rows follow the rules at once (a published version keeps its frozen rows).

import { pick, t } from "/common/i18n.js";
import { errorText, h, mount, toast } from "/common/ui.js";

const CONSEQUENCES = ["zero", "disqualify"];

export function conductRulesCard(ctx, examId, onSaved) {
  const card = h("section", { class: "card conduct-rules", dataset: { test: "conduct-rules" } });
  const url = `/api/v1/ops/exams/${examId}/conduct-rules`;
  let rules = null;
  let busy = false;

  async function load() {
    try {
      rules = await ctx.api.get(url);
      draw();
    } catch (e) {
      mount(card, h("p", { class: "banner banner-bad" }, errorText(e)));
    }
  }

  async function save(form) {
    const chosen = Object.fromEntries(rules.map((r) => [r.code, form.elements[r.code].value]));
    const away = Object.fromEntries(rules.filter((r) => chosen[r.code] !== r.default).map((r) => [r.code, chosen[r.code]]));
    busy = true;
    draw();
    try {
      rules = await ctx.api.put(url, { rules: away });
      toast(t("console.rules.saved"), "ok");
      onSaved();
    } catch (e) {
      toast(errorText(e), "bad");
    }
    busy = false;
    draw();
  }

  function rule(r) {
    return h(
      "tr",
      { dataset: { test: "conduct-rule", code: r.code, consequence: r.consequence } },
      h("td", {}, pick(r.label, r.label_en)),
      h(
        "td",
        {},
        h(
          "select",
          { name: r.code, disabled: busy, "aria-label": pick(r.label, r.label_en) },
          CONSEQUENCES.map((c) => h("option", { value: c, selected: c === r.consequence }, t(`console.rules.${c}`))),
        ),
      ),
      h(
        "td",
        { class: "small", dataset: { test: "rule-mark" } },
        r.consequence === r.default ? h("span", { class: "muted" }, t("console.rules.default")) : h("span", { class: "pill pill-warn" }, t("console.rules.changed")),
      ),
    );
  }

  function draw() {
    mount(
      card,
      h("h3", {}, t("console.rules.title")),
      h("p", { class: "muted small" }, t("console.rules.hint")),
      h(
        "form",
        {
          onsubmit: (e) => {
            e.preventDefault();
            save(e.target);
          },
        },
        h("table", { class: "grid" }, h("tbody", {}, rules.map(rule))),
        h("button", { class: "btn btn-small", type: "submit", disabled: busy, dataset: { action: "save-rules" } }, t("console.rules.save")),
      ),
    );
  }

  mount(card, h("h3", {}, t("console.rules.title")), h("p", { class: "muted" }, t("common.loading")));
  load();
  return card;
}
