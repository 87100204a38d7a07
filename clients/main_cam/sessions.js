// Sessions (练习 / 模拟 / 正式) with server-time countdowns; practice starts on demand. A finished sitting shows what
// became of it, not a countdown or a way in.

import { msUntil, syncHttp } from "/common/clock.js";
import { t, tParts } from "/common/i18n.js";
import { resultText, stateLabel } from "/common/sitting-view.js";
import { countdownEl, errorText, every, fmtSeconds, h, header, mount, timeEl, updateCountdowns } from "/common/ui.js";

const FINAL = new Set(["uploaded", "absent", "terminated", "incomplete"]);

/**
 * The session's title as ops wrote it, after its kind as a badge — unless the title already names the kind in the
 * reader's language ("练习", "模拟考试 Mock"): then the title alone, so the kind is read once.
 */
function titleLine(s) {
  const word = t(`sessions.kind_word.${s.kind}`).toLowerCase();
  const named = (s.title || "").toLowerCase().includes(word);
  return h("h3", { dataset: { test: "session-title" } }, !named && h("span", { class: "pill", dataset: { test: "kind" } }, t(`sessions.kind.${s.kind}`)), !named && " ", s.title);
}

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

  let starting = false;

  async function startPractice(session) {
    // The server answers the attempt still open if there is one (the practice opened on another phone, a tap that
    // raced this one), so every start lands in the one attempt. A second tap while the first is on its way opens
    // nothing: its answer would open the sitting screen a second time over the first.
    if (starting) return;
    starting = true;
    try {
      const sitting = await ctx.api.post(`/api/v1/candidate/practice/${session.id}/attempts`);
      if (alive) ctx.go(`sitting/${sitting.id}`);
    } catch (error) {
      message = errorText(error);
      if (alive) render();
    } finally {
      starting = false;
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

  function statePill(sitting) {
    const tone = FINAL.has(sitting.state) ? (sitting.state === "uploaded" ? "pill-ok" : "pill-bad") : "pill-warn";
    return h("span", { class: `pill ${tone}`, dataset: { test: "state", state: sitting.state } }, stateLabel(sitting));
  }

  /** What became of a finished sitting, and that its upload window is closed once it is. */
  function result(sitting, windows, tz) {
    return [
      h("p", { class: `banner ${sitting.state === "uploaded" ? "banner-ok" : "banner-bad"}`, dataset: { test: "result", state: sitting.state } }, resultText(sitting)),
      msUntil(windows.upload_deadline) <= 0 &&
        h("p", { class: "muted small", dataset: { test: "deadline-passed" } }, tParts("sessions.deadline_passed", { time: timeEl(windows.upload_deadline, tz, { zoneFirst: true }) })),
    ];
  }

  function sessionCard(s) {
    const tz = s.timezone || exam?.timezone;
    const sitting = s.sitting;
    const finished = sitting && FINAL.has(sitting.state);
    const state = sitting && statePill(sitting);
    if (s.kind === "practice") {
      const open = sitting && !finished && nextBoundary(sitting.windows);
      return h(
        "article",
        { class: "session", dataset: { session: s.id, kind: s.kind } },
        h("div", { class: "spread" }, titleLine(s), state),
        h("p", { class: "muted small" }, t("sessions.practice_desc", { waiting: fmtSeconds(s.waiting_seconds), answer: fmtSeconds(s.answer_seconds) })),
        sitting && h("p", { class: "muted small", dataset: { test: "attempt" } }, t("sessions.attempt", { n: sitting.attempt })),
        // The last attempt, when it is over: what became of it (a practice is never absent).
        finished && h("p", { class: `banner ${sitting.state === "uploaded" ? "banner-ok" : "banner-warn"}`, dataset: { test: "result", state: sitting.state } }, resultText(sitting)),
        open && h("p", {}, countdown(sitting.windows, tz)),
        // One button: the open attempt goes on, else a new one starts (the server decides which, from its own state).
        h("div", { class: "row" }, h("button", { class: "btn", dataset: { action: "practice", open: String(Boolean(open)) }, onclick: () => startPractice(s) }, t(open ? "sessions.continue_practice" : "sessions.start_practice"))),
      );
    }
    const windows = sitting?.windows || s;
    return h(
      "article",
      { class: "session", dataset: { session: s.id, kind: s.kind } },
      h("div", { class: "spread" }, titleLine(s), state),
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
      finished ? result(sitting, windows, tz) : h("p", {}, countdown(windows, tz)),
      sitting && !finished && h("a", { class: "btn", href: `#/sitting/${sitting.id}`, dataset: { action: "enter" } }, t("sessions.enter")),
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
