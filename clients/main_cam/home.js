// Log-in, home (exam info, support, notices, steps), exam confirmation and identity verification.

import { serverNow } from "/common/clock.js";
import { getStream, preview, captureJpeg } from "/common/media.js";
import { pick, t, tParts } from "/common/i18n.js";
import { errorText, h, header, mount, timeEl, toast, zonedText } from "/common/ui.js";

function loading(root, title) {
  mount(root, header(title), h("main", {}, h("p", { class: "muted" }, t("common.loading"))));
}

function failed(root, title, error, retry) {
  mount(
    root,
    header(title),
    h("main", {}, h("div", { class: "banner banner-bad", dataset: { test: "error" } }, errorText(error)), h("button", { class: "btn btn-secondary", onclick: retry }, t("common.retry"))),
  );
}

export function loginScreen(root, ctx) {
  let busy = false;
  let message = null;
  const values = { identifier: "", secret: "" };

  async function submit(event) {
    event.preventDefault();
    if (busy) return;
    busy = true;
    message = null;
    render();
    try {
      const body = await ctx.api.post("/api/v1/auth/candidate/login", { identifier: values.identifier.trim(), secret: values.secret.trim() });
      ctx.setToken(body.token, body.expires_at);
      // Sent here from a sitting (a replaced phone logging in again): straight back to it.
      const next = ctx.afterLogin || "home";
      ctx.afterLogin = null;
      ctx.go(next);
    } catch (error) {
      message = errorText(error);
      busy = false;
      render();
    }
  }

  function render() {
    const input = (name, type, label, autocomplete) =>
      h(
        "label",
        { class: "field" },
        h("span", {}, label),
        h("input", { name, type, value: values[name], autocomplete, required: true, oninput: (e) => (values[name] = e.target.value) }),
      );
    mount(
      root,
      header(`${t("app.main")} · ${t("login.title")}`),
      h(
        "main",
        {},
        h(
          "form",
          { class: "card", onsubmit: submit },
          h("h2", {}, t("app.name")),
          input("identifier", "text", t("login.identifier"), "username"),
          input("secret", "password", t("login.secret"), "current-password"),
          message && h("div", { class: "banner banner-bad", dataset: { test: "error" } }, message),
          h("button", { class: "btn btn-block", type: "submit", disabled: busy, dataset: { action: "login" } }, t("login.submit")),
          h("p", { class: "muted" }, t("login.hint")),
        ),
      ),
    );
  }
  render();
  return { render };
}

export function homeScreen(root, ctx) {
  let data = null;
  let alive = true;

  async function load() {
    loading(root, t("home.title"));
    try {
      const [{ me, exam }, notices, identity] = await Promise.all([
        ctx.profile(true),
        ctx.api.get("/api/v1/candidate/notices"),
        ctx.api.get("/api/v1/candidate/identity").catch(() => null),
      ]);
      data = { me, exam, notices, identity };
      if (alive) render();
    } catch (error) {
      if (alive) failed(root, t("home.title"), error, load);
    }
  }

  function render() {
    if (!data) return;
    const { me, exam, notices, identity } = data;
    const tz = exam.timezone;
    const support = exam.support;
    const verified = Boolean(me.identity_verified_at || identity?.identity_verified_at);
    mount(
      root,
      header(t("app.main"), h("button", { class: "btn-link", onclick: () => ctx.logout() }, t("common.logout"))),
      h(
        "main",
        {},
        h(
          "section",
          { class: "card", dataset: { test: "exam" } },
          h("h2", {}, exam.title),
          h(
            "dl",
            { class: "kv" },
            h("dt", {}, t("home.organizer")),
            h("dd", {}, exam.organizer),
            h("dt", {}, t("home.candidate")),
            h("dd", {}, `${me.name}（${me.id_number_masked}）`),
          ),
        ),
        h(
          "section",
          { class: "card" },
          h("h2", {}, t("home.steps")),
          h("p", { class: "muted", dataset: { test: "intro" } }, t("home.intro")),
          h(
            "ul",
            { class: "nav-list" },
            navItem("identity", t("home.identity"), verified ? t("home.identity_done") : t("home.identity_todo"), verified),
            navItem(
              "confirm",
              t("home.confirm"),
              me.confirmed_at ? tParts("home.confirm_done", { time: timeEl(me.confirmed_at, tz) }) : tParts("home.confirm_todo", { opens: timeEl(exam.confirm_opens_at, tz), closes: timeEl(exam.confirm_closes_at, tz) }),
              Boolean(me.confirmed_at),
            ),
            navItem("check", t("home.check"), "", null),
            navItem("sessions", t("home.sessions"), "", null),
          ),
        ),
        h(
          "section",
          { class: "card", dataset: { test: "notices" } },
          h("h2", {}, t("home.notices")),
          notices.length
            ? notices.map((n) =>
                h(
                  "article",
                  { class: "notice" },
                  h("h3", {}, n.pinned && h("span", { class: "pill pill-warn" }, t("home.pinned")), " ", n.title),
                  h("div", { class: "pre" }, n.body),
                  h("div", { class: "muted small" }, timeEl(n.published_at, tz)),
                ),
              )
            : h("p", { class: "muted" }, t("home.no_notices")),
        ),
        h(
          "section",
          { class: "card", dataset: { test: "support" } },
          h("h2", {}, t("home.support")),
          h(
            "dl",
            { class: "kv" },
            support.phone && [h("dt", {}, t("home.support_phone")), h("dd", {}, h("a", { href: `tel:${support.phone}` }, support.phone))],
            support.qq && [h("dt", {}, t("home.support_qq")), h("dd", {}, support.qq)],
            support.wechat && [h("dt", {}, t("home.support_wechat")), h("dd", {}, support.wechat)],
            support.hours && [h("dt", {}, t("home.support_hours")), h("dd", {}, zonedText(support.hours, tz))],
          ),
        ),
      ),
    );
  }

  function navItem(route, title, detail, ok) {
    const pill = ok === null ? null : h("span", { class: `pill ${ok ? "pill-ok" : "pill-warn"}` }, detail);
    return h("li", {}, h("a", { href: `#/${route}`, dataset: { nav: route } }, h("span", {}, title), pill || h("span", { class: "muted" }, "›")));
  }

  load();
  return { render, destroy: () => (alive = false) };
}

export function confirmScreen(root, ctx) {
  let data = null;
  let accepted = false;
  let message = null;
  let busy = false;
  let alive = true;

  async function load() {
    loading(root, t("confirm.title"));
    try {
      data = await ctx.profile(true);
      if (alive) render();
    } catch (error) {
      if (alive) failed(root, t("confirm.title"), error, load);
    }
  }

  async function submit(event) {
    event.preventDefault();
    busy = true;
    message = null;
    render();
    try {
      ctx.me = await ctx.api.post("/api/v1/candidate/confirmation", {
        identity_category: data.exam.identity_category,
        province: data.exam.province,
        accept_rules: accepted,
      });
      data.me = ctx.me;
      toast(t("confirm.done"));
    } catch (error) {
      message = errorText(error);
    }
    busy = false;
    render();
  }

  function render() {
    if (!data) return;
    const { me, exam } = data;
    const tz = exam.timezone;
    const now = serverNow();
    const notOpen = now < Date.parse(exam.confirm_opens_at);
    const closed = now > Date.parse(exam.confirm_closes_at);
    mount(
      root,
      header(t("confirm.title"), h("a", { class: "btn-link", href: "#/home" }, t("common.back"))),
      h(
        "main",
        {},
        h(
          "form",
          { class: "card", onsubmit: submit, dataset: { test: "confirm" } },
          h("h2", {}, exam.title),
          h("p", { class: "muted" }, tParts("confirm.window", { opens: timeEl(exam.confirm_opens_at, tz), closes: timeEl(exam.confirm_closes_at, tz) })),
          h("dl", { class: "kv" }, h("dt", {}, t("confirm.category")), h("dd", {}, exam.identity_category), h("dt", {}, t("confirm.province")), h("dd", {}, exam.province)),
          h("h3", {}, t("confirm.rules")),
          h("div", { class: "pre card", dataset: { test: "rules" } }, exam.rules_text || "—"),
          me.confirmed_at
            ? h("div", { class: "banner banner-ok", dataset: { test: "confirmed" } }, tParts("home.confirm_done", { time: timeEl(me.confirmed_at, tz) }))
            : [
                notOpen && h("div", { class: "banner banner-warn" }, t("confirm.not_open")),
                closed && h("div", { class: "banner banner-bad" }, t("confirm.closed")),
                h(
                  "label",
                  { class: "check" },
                  h("input", { type: "checkbox", name: "accept", checked: accepted, onchange: (e) => ((accepted = e.target.checked), render()) }),
                  h("span", {}, t("confirm.accept")),
                ),
                message && h("div", { class: "banner banner-bad", dataset: { test: "error" } }, message),
                h("button", { class: "btn btn-block", type: "submit", disabled: busy || !accepted, dataset: { action: "confirm" } }, t("confirm.submit")),
              ],
        ),
      ),
    );
  }

  load();
  return { render, destroy: () => (alive = false) };
}

export function identityScreen(root, ctx) {
  let status = null;
  let attempt = null;
  let message = null;
  let busy = false;
  let video = null;
  let alive = true;

  async function load() {
    loading(root, t("identity.title"));
    try {
      status = await ctx.api.get("/api/v1/candidate/identity");
      if (!status.identity_verified_at) {
        const stream = await getStream();
        video = preview(stream);
      }
      if (alive) render();
    } catch (error) {
      if (alive) failed(root, t("identity.title"), error, load);
    }
  }

  async function capture(path, method = "POST", file = null) {
    busy = true;
    message = null;
    render();
    try {
      const form = new FormData();
      if (file) form.append("image", file, file.name);
      else form.append("image", await captureJpeg(video), "capture.jpg");
      const result = await ctx.api.request(method, path, { form });
      if (path.endsWith("selfie")) attempt = result;
      status = await ctx.api.get("/api/v1/candidate/identity");
      ctx.me = null;
    } catch (error) {
      message = errorText(error);
    }
    busy = false;
    render();
  }

  /** The capture button: while the picture is compared (seconds on a slow uplink) it is disabled and says so. */
  function selfieButton() {
    return h(
      "button",
      { class: "btn btn-block", disabled: busy, "aria-busy": busy ? "true" : null, dataset: { action: "selfie" }, onclick: () => capture("/api/v1/candidate/identity/selfie") },
      busy ? [h("span", { class: "spinner", "aria-hidden": "true" }), t("identity.comparing")] : t("identity.capture"),
    );
  }

  function render() {
    if (!status) return;
    const verified = Boolean(status.identity_verified_at);
    // Under review, or rejected by it, the server takes no selfie: no camera, no button, and no text naming one.
    const reviewing = status.review?.status === "open";
    const rejected = status.review?.decision === "reject";
    const closed = reviewing || rejected;
    const findings = attempt?.findings || [];
    mount(
      root,
      header(t("identity.title"), h("a", { class: "btn-link", href: "#/home" }, t("common.back"))),
      h(
        "main",
        {},
        h(
          "section",
          { class: "card", dataset: { test: "identity" } },
          verified
            ? h("div", { class: "banner banner-ok", dataset: { test: "identity-ok" } }, t("identity.done"))
            : [
                closed
                  ? h("div", { class: `banner ${rejected ? "banner-bad" : "banner-warn"}`, dataset: { test: "review" } }, t(rejected ? "identity.rejected" : "identity.review"))
                  : h("p", { class: status.has_id_photo ? "" : "banner banner-warn", dataset: { test: "intro" } }, t(status.has_id_photo ? "identity.intro" : "identity.intro_no_photo")),
                !closed && h("div", { class: "preview-wrap" }, video, h("div", { class: "face-frame" })),
                attempt && !attempt.passed && attempt.counted && h("div", { class: "banner banner-bad" }, t("identity.failed", { n: status.failures, max: status.max_failures })),
                findings.map((f) => h("div", { class: "banner banner-warn", dataset: { finding: f.code } }, pick(f.message, f.message_en))),
                message && h("div", { class: "banner banner-bad", dataset: { test: "error" } }, message),
                closed
                  ? null
                  : status.has_id_photo
                  ? selfieButton()
                  : h(
                      "label",
                      { class: "btn btn-block btn-secondary" },
                      t("identity.upload_photo"),
                      h("input", {
                        type: "file",
                        accept: "image/jpeg,image/png,image/webp",
                        class: "hidden",
                        dataset: { action: "id-photo" },
                        onchange: (e) => e.target.files[0] && capture("/api/v1/candidate/id-photo", "PUT", e.target.files[0]),
                      }),
                    ),
              ],
        ),
      ),
    );
  }

  load();
  return { render, destroy: () => (alive = false) };
}
