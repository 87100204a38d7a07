// Small DOM helpers: no framework, screens are functions that build elements.

import { formatCountdown, msUntil, serverNow } from "./clock.js";
import { getLang, t, toggleLang, tParts } from "./i18n.js";

/** h("div", {class: "x", onclick: f, dataset: {...}}, child, "text", [more]) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "html") el.innerHTML = value; // only for trusted markup (the server's QR SVG)
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function mount(root, ...children) {
  root.replaceChildren();
  append(root, children);
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return t("common.unknown");
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Math.max(0, n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function fmtSeconds(seconds) {
  const s = Math.round(seconds);
  if (getLang() === "en") return s >= 60 ? `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}` : `${s} s`;
  return s >= 60 ? `${Math.floor(s / 60)} 分钟${s % 60 ? ` ${s % 60} 秒` : ""}` : `${s} 秒`;
}

// The exam notice says every time is Beijing time: the zone the server gives an exam unless ops name another.
const BEIJING = "Asia/Shanghai";

/** The exam's timezone where a screen does not know it (the server's default for an exam). */
export const DEFAULT_TIME_ZONE = BEIJING;

/** The name a candidate reads next to every time: "北京时间" / "Beijing time", else "Asia/Urumqi 时间". */
export function zoneLabel(timeZone = DEFAULT_TIME_ZONE) {
  return timeZone === BEIJING ? t("time.zone_beijing") : t("time.zone_named", { zone: timeZone });
}

/** An instant in the exam's timezone: "2026-06-01 09:00" (seconds when asked), without the zone's name. */
export function fmtTime(iso, timeZone = DEFAULT_TIME_ZONE, { seconds = false } = {}) {
  if (!iso) return "—";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: seconds ? "2-digit" : undefined,
    hourCycle: "h23",
  }).formatToParts(new Date(typeof iso === "number" ? iso : Date.parse(iso)));
  const get = (type) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}${seconds ? `:${get("second")}` : ""}`;
}

/** The same instant with the zone's name: "2026-06-01 09:00 北京时间". */
export function fmtZoned(iso, timeZone = DEFAULT_TIME_ZONE, options = {}) {
  if (!iso) return "—";
  return t("time.at_zone", { time: fmtTime(iso, timeZone, options), zone: zoneLabel(timeZone) });
}

/**
 * Every time a screen shows is one of these: a <time> with its instant and the zone's name. `data-time` names the
 * zone, so a test can find every time on a screen and check that it says which zone it is in.
 */
export function timeEl(iso, timeZone = DEFAULT_TIME_ZONE, { seconds = false, clock = false, zoneFirst = false, test } = {}) {
  const instant = iso ? new Date(typeof iso === "number" ? iso : Date.parse(iso)).toISOString() : undefined;
  const text = clock
    ? t("time.clock_zone", { time: fmtClock(iso, timeZone), zone: zoneLabel(timeZone) })
    : zoneFirst
      ? `${zoneLabel(timeZone)} ${fmtTime(iso, timeZone, { seconds })}`
      : fmtZoned(iso, timeZone, { seconds });
  return h("time", { datetime: instant, dataset: { time: timeZone, test } }, text);
}

/** Times ops wrote as text (support hours "每天 08:00–20:00"): they are the exam's too, so they get its name. */
export function zonedText(text, timeZone = DEFAULT_TIME_ZONE) {
  return h("span", { dataset: { time: timeZone } }, t("time.text_zone", { text, zone: zoneLabel(timeZone) }));
}

/** An instant's clock time in a zone, "09:00", with the date in front unless it is today there (server time). */
export function fmtClock(iso, timeZone = DEFAULT_TIME_ZONE) {
  const full = fmtTime(iso, timeZone);
  const today = fmtTime(serverNow(), timeZone).slice(0, 10);
  return full.startsWith(today) ? full.slice(11) : full;
}

let toastTimer = null;

export function toast(message, kind = "info") {
  let el = document.getElementById("toast");
  if (!el) {
    el = h("div", { id: "toast", role: "status", "aria-live": "polite" });
    document.body.append(el);
  }
  el.className = `toast toast-${kind} show`;
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), 4000);
}

/** A modal confirmation; resolves true or false. */
export function confirmDialog(message, okText, cancelText) {
  return new Promise((resolve) => {
    const close = (answer) => {
      overlay.remove();
      resolve(answer);
    };
    const overlay = h(
      "div",
      { class: "modal-overlay", role: "dialog", "aria-modal": "true" },
      h(
        "div",
        { class: "modal" },
        h("p", { class: "modal-text" }, message),
        h(
          "div",
          { class: "modal-actions" },
          h("button", { class: "btn btn-secondary", dataset: { action: "cancel" }, onclick: () => close(false) }, cancelText || t("common.cancel")),
          h("button", { class: "btn btn-danger", dataset: { action: "confirm" }, onclick: () => close(true) }, okText || t("common.ok")),
        ),
      ),
    );
    document.body.append(overlay);
  });
}

export function langButton() {
  return h("button", { class: "btn-link lang-switch", type: "button", dataset: { action: "lang" }, onclick: () => toggleLang() }, t("lang.switch"));
}

/** A header bar: title, optional status pills, language switch. */
export function header(title, ...extra) {
  return h("header", { class: "topbar" }, h("h1", {}, title), h("div", { class: "topbar-extra" }, ...extra), langButton());
}

export function errorText(error) {
  if (error && typeof error.text === "string" && error.text) {
    // A server fault is not the candidate's to fix: the id lets support find what happened.
    return error.status >= 500 && error.requestId ? error.text + t("err.request_id", { id: error.requestId }) : error.text;
  }
  return t("err.generic", { message: error?.message || String(error) });
}

/** Periodic redraw of countdowns; returns a stop function. */
export function every(ms, fn) {
  fn();
  const id = setInterval(fn, ms);
  return () => clearInterval(id);
}

/**
 * A countdown to an ISO instant in server time, kept current by updateCountdowns(), with the instant it counts to
 * (in the exam's zone, named). `label` is an i18n key with {t}. The remaining time is marked `data-duration`: it is
 * a length of time, not a time of day.
 */
export function countdownEl(iso, label, { className = "countdown", test = "countdown", timeZone = DEFAULT_TIME_ZONE, seconds = false } = {}) {
  return h(
    "div",
    { class: className, dataset: { test } },
    h("span", { dataset: { countdown: iso, label, duration: "" } }, t(label, { t: formatCountdown(msUntil(iso)) })),
    h("span", { class: "countdown-at" }, tParts("time.until", { time: timeEl(iso, timeZone, { seconds }) })),
  );
}

export function updateCountdowns(root) {
  for (const el of root.querySelectorAll("[data-countdown]")) {
    el.textContent = t(el.dataset.label, { t: formatCountdown(msUntil(el.dataset.countdown)) });
  }
  for (const el of root.querySelectorAll("[data-server-clock]")) {
    const now = serverNow();
    el.textContent = fmtZoned(now, el.dataset.time, { seconds: true });
    el.setAttribute("datetime", new Date(now).toISOString());
  }
}

/** The server's time now, in the exam's timezone and named, kept current by updateCountdowns(). */
export function serverClockEl(timeZone = DEFAULT_TIME_ZONE) {
  const clock = timeEl(serverNow(), timeZone, { seconds: true });
  clock.dataset.serverClock = "";
  return h("span", { dataset: { test: "server-clock" } }, tParts("common.server_time", { time: clock }));
}
