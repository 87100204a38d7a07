// Ops: a new exam — its titles, where candidates come from, the confirmation window, the conduct rules they accept,
// support contacts and the interruption allowance. Times are typed in the exam's zone; then on to its sessions.

import { t } from "/common/i18n.js";
import { DEFAULT_TIME_ZONE, h, mount, toast, zoneLabel } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import { field, submit, values } from "./forms.js";
import "./setup-strings.js";

// The default first (北京时间), then the other zones an exam in China, Hong Kong, Macau or Taiwan may keep.
const ZONES = [DEFAULT_TIME_ZONE, "Asia/Urumqi", "Asia/Hong_Kong", "Asia/Macau", "Asia/Taipei"];

export function page(root, ctx) {
  const problems = h("div");
  let zone = ZONES[0];

  async function create(e) {
    e.preventDefault();
    const exam = await submit(problems, () => ctx.api.post("/api/v1/ops/exams", values(e.target)));
    if (!exam) return;
    toast(t("console.setup.exam_created"), "ok");
    ctx.go(`sessions`);
  }

  const hint = () => t("console.setup.in_zone", { zone: zoneLabel(zone) });

  // In place: a redraw would lose what was typed.
  function rezone(value) {
    zone = value;
    for (const el of root.querySelectorAll("[data-zone-hint]")) el.textContent = hint();
  }

  function render() {
    const when = (name) => field(t(`console.setup.${name}`), h("input", { name, type: "datetime-local", required: true }), h("span", { dataset: { zoneHint: "" } }, hint()));
    const text = (name, attrs = {}) => field(t(`console.setup.${name}`), h("input", { name, ...attrs }));
    mount(
      root,
      consolePage(
        ctx,
        [[t("console.sessions.crumb"), "#/sessions"], [t("console.setup.new_exam")]],
        h(
          "section",
          { class: "card" },
          h("h2", {}, t("console.setup.new_exam")),
          h(
            "form",
            { class: "setup-form", dataset: { test: "exam-form" }, onsubmit: create },
            text("title", { required: true, maxlength: 200 }),
            text("organizer", { required: true, maxlength: 200 }),
            text("province", { required: true, maxlength: 32, placeholder: "山东" }),
            text("identity_category", { required: true, maxlength: 32, value: "其他" }),
            field(
              t("console.setup.timezone"),
              h("select", { name: "timezone", onchange: (e) => rezone(e.target.value) }, ZONES.map((z) => h("option", { value: z, selected: z === zone }, zoneLabel(z)))),
            ),
            when("confirm_opens_at"),
            when("confirm_closes_at"),
            field(t("console.setup.rules_text"), h("textarea", { name: "rules_text", rows: 4, maxlength: 20000 })),
            text("support_phone", { maxlength: 64 }),
            text("support_qq", { maxlength: 64 }),
            text("support_wechat", { maxlength: 64 }),
            text("support_hours", { maxlength: 200, placeholder: "每天 08:00–20:00" }),
            field(t("console.setup.interruption_limit"), h("input", { name: "interruption_limit", type: "number", min: 0, max: 100, value: 1 })),
            field(t("console.setup.interruption_grace_seconds"), h("input", { name: "interruption_grace_seconds", type: "number", min: 0, max: 3600, value: 120 })),
            problems,
            h("button", { class: "btn", type: "submit", dataset: { action: "create-exam" } }, t("console.setup.create_exam")),
          ),
        ),
      ),
    );
  }

  render();
  return { render };
}
