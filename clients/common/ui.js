// Small DOM helpers: no framework, screens are functions that build elements.

import { formatCountdown, msUntil, serverNow } from "./clock.js";
import { getLang, t, toggleLang } from "./i18n.js";

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

/** The exam's timezone where a screen does not know it (the server's default for an exam). */
export const DEFAULT_TIME_ZONE = "Asia/Shanghai";

/** An instant in the exam's timezone: "2026-06-01 09:00" (seconds when asked). */
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

/** How a screen names the timezone of the times it shows: "北京时间" for the exam's usual zone, else its IANA name. */
export function zoneName(timeZone = DEFAULT_TIME_ZONE) {
  return timeZone === "Asia/Shanghai" ? t("time.zone.beijing") : timeZone;
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
  if (error && typeof error.text === "string" && error.text) return error.text;
  return t("err.generic", { message: error?.message || String(error) });
}

/** Periodic redraw of countdowns; returns a stop function. */
export function every(ms, fn) {
  fn();
  const id = setInterval(fn, ms);
  return () => clearInterval(id);
}

/** A countdown to an ISO instant in server time, kept current by updateCountdowns(). `label` is an i18n key with {t}. */
export function countdownEl(iso, label, className = "countdown", test = "countdown") {
  return h("div", { class: className, dataset: { countdown: iso, label, test } }, t(label, { t: formatCountdown(msUntil(iso)) }));
}

export function updateCountdowns(root) {
  for (const el of root.querySelectorAll("[data-countdown]")) {
    el.textContent = t(el.dataset.label, { t: formatCountdown(msUntil(el.dataset.countdown)) });
  }
  for (const el of root.querySelectorAll("[data-server-clock]")) {
    el.textContent = t("common.server_time", { time: fmtTime(serverNow(), el.dataset.serverClock, { seconds: true }) });
  }
}

/** The server's time now, in a timezone, kept current by updateCountdowns(). */
export function serverClockEl(timeZone = DEFAULT_TIME_ZONE) {
  return h("span", { dataset: { serverClock: timeZone, test: "server-clock" } }, t("common.server_time", { time: fmtTime(serverNow(), timeZone, { seconds: true }) }));
}
