// Sessions (练习 / 模拟 / 正式) with server-time countdowns; practice starts on demand.

import { msUntil, syncHttp } from "/common/clock.js";
import { t } from "/common/i18n.js";
import { countdownEl, errorText, every, fmtSeconds, h, header, mount, timeEl, updateCountdowns } from "/common/ui.js";

const FINAL = new Set(["uploaded", "absent", "terminated", "incomplete"]);

/** The next boundary of a sitting or a timed session, as a countdown label, in server time. */
export function nextBoundary(windows) {
  const steps = [
    ["waiting_opens_at", "sessions.until_waiting"],
    ["answer_starts_at", "sessions.until_start"],
    ["answer_ends_at", "sessions.until_end"],
    ["upload_deadline", "sessions.until_deadline"],
  ];
  for (const [field, label] of steps) {
    if (windows[field] && msUntil(windows[field]) > 0) return { label, at: windows[field] };
  }
  return null;
}

export function sessionsScreen(root, ctx) {
  let sessions = null;
  let exam = null;
  let message = null;
  let alive = true;
  let stopTick = () => {};

  async function load() {
    try {
      await syncHttp(2);
      [sessions, { exam }] = await Promise.all([ctx.api.get("/api/v1/candidate/sessions"), ctx.profile()]);
      message = null;
    } catch (error) {
      message = errorText(error);
    }
    if (alive) render();
  }

  async function startPractice(session) {
    try {
      const sitting = await ctx.api.post(`/api/v1/candidate/practice/${session.id}/attempts`);
      ctx.go(`sitting/${sitting.id}`);
    } catch (error) {
      message = errorText(error);
      render();
    }
  }

  function countdown(windows, tz) {
    const next = nextBoundary(windows);
    if (!next) return h("span", { class: "muted" }, t("sessions.over"));
    return countdownEl(next.at, next.label, { timeZone: tz });
  }

  function tick() {
    updateCountdowns(root);
  }

  function sessionCard(s) {
    const tz = s.timezone || exam?.timezone;
    const sitting = s.sitting;
    const state = sitting && h("span", { class: `pill ${FINAL.has(sitting.state) ? (sitting.state === "uploaded" ? "pill-ok" : "pill-bad") : "pill-warn"}`, dataset: { state: sitting.state } }, t(`state.${sitting.state}`));
    if (s.kind === "practice") {
      const open = sitting && !FINAL.has(sitting.state) && nextBoundary(sitting.windows);
      return h(
        "article",
        { class: "session", dataset: { session: s.id, kind: s.kind } },
        h("div", { class: "spread" }, h("h3", {}, h("span", { class: "pill" }, t("sessions.kind.practice")), " ", s.title), state),
        h("p", { class: "muted small" }, t("sessions.practice_desc", { waiting: fmtSeconds(s.waiting_seconds), answer: fmtSeconds(s.answer_seconds) })),
        open && countdown(sitting.windows, tz),
        h(
          "div",
          { class: "row" },
          h("button", { class: "btn", dataset: { action: "practice" }, onclick: () => startPractice(s) }, t("sessions.start_practice")),
          open && h("a", { class: "btn btn-secondary", href: `#/sitting/${sitting.id}`, dataset: { action: "enter" } }, t("sessions.continue")),
        ),
      );
    }
    const windows = sitting?.windows || s;
    return h(
      "article",
      { class: "session", dataset: { session: s.id, kind: s.kind } },
      h("div", { class: "spread" }, h("h3", {}, h("span", { class: "pill" }, t(`sessions.kind.${s.kind}`)), " ", s.title), state),
      h(
        "dl",
        { class: "kv small" },
        h("dt", {}, t("sessions.waiting_opens")),
        h("dd", {}, timeEl(windows.waiting_opens_at, tz)),
        h("dt", {}, t("sessions.answer_starts")),
        h("dd", {}, timeEl(windows.answer_starts_at, tz)),
        h("dt", {}, t("sessions.answer_ends")),
        h("dd", {}, timeEl(windows.answer_ends_at, tz)),
        h("dt", {}, t("sessions.upload_deadline")),
        h("dd", {}, timeEl(windows.upload_deadline, tz)),
      ),
      countdown(windows, tz),
      sitting && h("a", { class: `btn ${FINAL.has(sitting.state) ? "btn-secondary" : ""}`, href: `#/sitting/${sitting.id}`, dataset: { action: "enter" } }, t("sessions.enter")),
    );
  }

  function render() {
    mount(
      root,
      header(t("sessions.title"), h("a", { class: "btn-link", href: "#/home" }, t("common.back"))),
      h(
        "main",
        {},
        message && h("div", { class: "banner banner-bad", dataset: { test: "error" } }, message),
        sessions === null
          ? h("p", { class: "muted" }, t("common.loading"))
          : h("section", { class: "card", dataset: { test: "sessions" } }, sessions.length ? sessions.map(sessionCard) : h("p", { class: "muted" }, t("sessions.none"))),
        h("button", { class: "btn btn-secondary btn-block", onclick: load }, t("common.refresh")),
      ),
    );
    tick();
  }

  render();
  load();
  stopTick = every(1000, tick);
  return {
    render,
    destroy() {
      alive = false;
      stopTick();
    },
  };
}
