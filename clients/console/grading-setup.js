// Ops' grading set-up on the results page: the rubric as a form (items, their points, steps and bands), graders
// per sitting and the tolerance, and the session's graders (add from the grader accounts, take off).

import { pick, t } from "/common/i18n.js";
import { errorText, h, mount, toast } from "/common/ui.js";

const BAND = /^\s*(\d+(?:\.\d+)?)\s*[-–~]\s*(\d+(?:\.\d+)?)\s+(.+?)\s*$/;

function bandsText(item) {
  return (item.descriptors || []).map((d) => `${d.from}-${d.to} ${d.text}`).join("\n");
}

function parseBands(text) {
  return text
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => {
      const m = BAND.exec(line);
      if (!m) throw new Error(t("console.setup.bad_band", { line }));
      return { from: Number(m[1]), to: Number(m[2]), text: m[3] };
    });
}

/** The set-up card; `reload()` after a change. */
export function setupCard(ctx, plan, base, reload) {
  const card = h("section", { class: "card setup", dataset: { test: "setup" } });
  let editing = false;
  let staff = null;
  const items = plan.items.map((i) => ({ ...i }));
  const settings = { graders: plan.graders_per_sitting, tolerance: Math.round(plan.tolerance * 100) };

  // What is typed so far, kept across a redraw (adding or removing an item rebuilds the rows).
  function capture() {
    const form = card.querySelector(".rubric-form");
    if (!form) return;
    [...form.querySelectorAll("[data-test=rubric-row]")].forEach((row, index) => {
      Object.assign(items[index], {
        key: row.dataset.key,
        label: row.querySelector("[name=label]").value,
        label_en: row.querySelector("[name=label_en]").value,
        max_points: row.querySelector("[name=max_points]").value,
        step: row.querySelector("[name=step]").value,
        bands: row.querySelector("[name=bands]").value,
      });
    });
  }

  function edit(change) {
    capture();
    change();
    draw();
  }

  async function save(form) {
    try {
      const rows = [...form.querySelectorAll("[data-test=rubric-row]")].map((row) => ({
        key: row.dataset.key,
        label: row.querySelector("[name=label]").value.trim(),
        label_en: row.querySelector("[name=label_en]").value.trim(),
        max_points: Number(row.querySelector("[name=max_points]").value),
        step: Number(row.querySelector("[name=step]").value),
        descriptors: parseBands(row.querySelector("[name=bands]").value),
      }));
      await ctx.api.put(`${base}/grading`, {
        items: rows,
        graders_per_sitting: Number(form.querySelector("[name=graders_per_sitting]").value),
        tolerance: Number(form.querySelector("[name=tolerance]").value) / 100,
      });
      toast(t("console.setup.saved"), "ok");
      editing = false;
      reload();
    } catch (e) {
      toast(errorText(e), "bad");
    }
  }

  // A new item's key: the first item_N no other item has (keys are what scores are stored under).
  function newItem() {
    const keys = new Set(items.map((i) => i.key));
    let n = 1;
    while (keys.has(`item_${n}`)) n += 1;
    return { key: `item_${n}` };
  }

  function itemRow(item, index) {
    return h(
      "fieldset",
      { class: "rubric-row", dataset: { test: "rubric-row", key: item.key } },
      h("label", {}, t("console.setup.label"), h("input", { name: "label", value: item.label || "", required: true, maxlength: 200 })),
      h("label", {}, "English", h("input", { name: "label_en", value: item.label_en || "", maxlength: 200 })),
      h("label", {}, t("console.setup.max_points"), h("input", { name: "max_points", type: "number", min: "0.5", step: "0.5", value: item.max_points ?? 10, required: true })),
      h("label", {}, t("console.setup.step"), h("input", { name: "step", type: "number", min: "0.1", step: "0.1", value: item.step ?? 1, required: true })),
      h("label", { class: "wide" }, t("console.setup.bands"), h("textarea", { name: "bands", rows: 2, placeholder: "8-10 切题，见解深入" }, item.bands ?? bandsText(item))),
      h("button", { class: "btn-link small", type: "button", dataset: { action: "remove-item" }, onclick: () => edit(() => items.splice(index, 1)) }, t("console.setup.remove")),
    );
  }

  function editor() {
    return h(
      "form",
      { class: "rubric-form", onsubmit: (e) => (e.preventDefault(), save(e.target)) },
      items.map(itemRow),
      h("button", { class: "btn btn-small btn-secondary", type: "button", dataset: { action: "add-item" }, onclick: () => edit(() => items.push(newItem())) }, t("console.setup.add_item")),
      h(
        "div",
        { class: "rubric-settings" },
        h("label", {}, t("console.setup.graders_per_sitting"), h("input", { name: "graders_per_sitting", type: "number", min: 1, max: 9, value: settings.graders, oninput: (e) => (settings.graders = e.target.value) })),
        h("label", {}, t("console.setup.tolerance"), h("input", { name: "tolerance", type: "number", min: 0, max: 100, value: settings.tolerance, oninput: (e) => (settings.tolerance = e.target.value) })),
      ),
      h("button", { class: "btn btn-small", type: "submit", dataset: { action: "save-rubric" } }, t("console.setup.save")),
    );
  }

  async function addGrader(select) {
    if (!select.value) return;
    try {
      await ctx.api.put(`${base}/graders/${select.value}`);
      reload();
    } catch (e) {
      toast(errorText(e), "bad");
    }
  }

  async function removeGrader(id) {
    try {
      await ctx.api.delete(`${base}/graders/${id}`);
      reload();
    } catch (e) {
      toast(errorText(e), "bad");
    }
  }

  function graders() {
    const assigned = new Set(plan.graders.map((g) => g.staff_id));
    const free = (staff || []).filter((s) => s.role === "grader" && !assigned.has(s.id));
    const select = h("select", { dataset: { test: "grader-pick" } }, h("option", { value: "" }, t("console.setup.pick_grader")), free.map((s) => h("option", { value: s.id }, `${s.display_name} (${s.username})`)));
    return [
      plan.graders.length
        ? h("p", { dataset: { test: "graders" } }, plan.graders.map((g) => h("span", { class: "pill grader" }, `${g.code} ${g.display_name} `, h("button", { class: "btn-link small", type: "button", title: t("console.setup.remove"), dataset: { action: "remove-grader" }, onclick: () => removeGrader(g.staff_id) }, "×"))))
        : h("p", { class: "muted" }, t("console.results.no_graders")),
      h("div", { class: "inline-form" }, select, h("button", { class: "btn btn-small btn-secondary", type: "button", dataset: { action: "add-grader" }, onclick: () => addGrader(select) }, t("console.setup.add_grader"))),
    ];
  }

  function draw() {
    const rubric = plan.items.length
      ? h("ul", { dataset: { test: "rubric" } }, plan.items.map((i) => h("li", {}, `${pick(i.label, i.label_en || i.label)}：${i.max_points}`)))
      : h("p", { class: "muted" }, t("console.results.no_rubric"));
    mount(
      card,
      h("h3", {}, t("console.results.rubric"), plan.maximum ? h("span", { class: "muted small" }, ` · ${plan.maximum}`) : null),
      editing ? editor() : [rubric, h("p", { class: "muted small" }, t("console.results.per_sitting", { n: plan.graders_per_sitting, tolerance: Math.round(plan.tolerance * 100) })), h("button", { class: "btn btn-small btn-secondary", type: "button", dataset: { action: "edit-rubric" }, onclick: () => ((editing = true), items.length || items.push(newItem()), draw()) }, t("console.setup.edit"))],
      h("h3", {}, t("console.results.graders")),
      graders(),
      h("button", { class: "btn btn-small", dataset: { action: "assign" }, disabled: !plan.items.length, onclick: () => card.dispatchEvent(new CustomEvent("assign")) }, t("console.results.assign")),
    );
  }

  ctx.api.get("/api/v1/ops/staff").then((list) => ((staff = list), draw()), () => draw());
  draw();
  return card;
}
