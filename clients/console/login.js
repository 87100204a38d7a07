// Staff log-in: username and password against the staff auth; the token, role and name are kept for the tab.

import { t } from "/common/i18n.js";
import { errorText, h, langButton, mount } from "/common/ui.js";

export function page(root, ctx) {
  let error = null;
  let busy = false;

  async function submit(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const username = String(form.get("username") || "").trim();
    busy = true;
    error = null;
    render();
    try {
      const body = await ctx.api.post("/api/v1/auth/staff/login", { username, password: String(form.get("password") || "") });
      ctx.setStaff({ token: body.token, role: body.role, username });
      ctx.go("sessions");
    } catch (e) {
      error = errorText(e);
      busy = false;
      render();
    }
  }

  function render() {
    mount(
      root,
      h("header", { class: "topbar" }, h("h1", {}, t("console.name")), h("div", { class: "topbar-extra" }), langButton()),
      h(
        "main",
        { class: "console-login card" },
        h("h2", {}, t("console.login.title")),
        h(
          "form",
          { onsubmit: submit, dataset: { test: "login" } },
          h("label", {}, t("console.login.username"), h("input", { name: "username", autocomplete: "username", required: true, maxlength: "64" })),
          h("label", {}, t("console.login.password"), h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
          error && h("p", { class: "banner banner-bad", role: "alert", dataset: { test: "error" } }, error),
          h("button", { class: "btn btn-block", type: "submit", disabled: busy }, busy ? t("common.loading") : t("console.login.submit")),
        ),
      ),
    );
  }

  render();
  return { render };
}
