// The staff console: log-in, then pages by hash route (#/sessions, #/session/ID, #/queue/ID, #/sitting/ID,
// #/results/ID; a grader's #/grading and #/grade/ID). Each
// page module exports page(root, ctx, param) → {render?(), destroy?()} like the phone screens, and is loaded on
// first use. The staff token lives in sessionStorage: closing the tab ends the console's session.

import { apiClient } from "/common/api.js";
import { syncHttp } from "/common/clock.js";
import { applyLang, onLangChange, t } from "/common/i18n.js";
import { h, mount } from "/common/ui.js";
import "./strings.js";

const TOKEN_KEY = "dualcam.console.staff";

function loadStaff() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
    if (saved?.token) return saved;
  } catch {
    // a corrupt entry: log in again
  }
  return null;
}

const ctx = {
  staff: loadStaff(), // {token, role, username}
  api: null,
  get isOps() {
    return ctx.staff?.role === "ops";
  },
  setStaff(staff) {
    ctx.staff = staff;
    if (staff) sessionStorage.setItem(TOKEN_KEY, JSON.stringify(staff));
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  go(route) {
    if (location.hash === `#/${route}`) route_();
    else location.hash = `#/${route}`;
  },
  async logout() {
    // Revoke first: a token that outlives the log-out would still open every recording.
    await ctx.api.post("/api/v1/auth/logout").catch(() => {});
    ctx.setStaff(null);
    ctx.go("login");
  },
};

ctx.api = apiClient({
  getToken: () => ctx.staff?.token,
  onUnauthorized: () => {
    if (!ctx.staff) return; // a failed log-in
    ctx.setStaff(null);
    ctx.go("login");
  },
});

// Loaded on first use: a reviewer who only reviews never downloads the dashboard.
const PAGES = {
  login: () => import("./login.js"),
  sessions: () => import("./sessions.js"),
  session: () => import("./dashboard.js"),
  queue: () => import("./queue.js"),
  sitting: () => import("./review.js"),
  audit: () => import("./audit.js"),
  grading: () => import("./grading.js"),
  grade: () => import("./grade.js"),
  results: () => import("./results.js"),
  questions: () => import("./questions.js"),
  roster: () => import("./roster.js"),
  "exam-new": () => import("./exam-new.js"),
  "session-new": () => import("./session-new.js"),
  report: () => import("./report.js"),
};
// What each role may open: a grader scores blind and never reaches a page that names candidates.
const GRADER_PAGES = new Set(["login", "grading", "grade"]);

const root = document.getElementById("app");
let current = null;
let routing = 0;

async function route_() {
  const [name, param] = location.hash.replace(/^#\/?/, "").split("/");
  const grader = ctx.staff?.role === "grader";
  let page = PAGES[name] ? name : grader ? "grading" : "sessions";
  if (grader && !GRADER_PAGES.has(page)) page = "grading";
  if (!grader && (page === "grading" || page === "grade")) page = "sessions";
  if (!ctx.staff) page = "login";
  const mine = ++routing;
  current?.destroy?.();
  current = null;
  document.body.dataset.page = page;
  try {
    const module = await PAGES[page]();
    if (mine !== routing) return; // another route came first
    current = module.page(root, ctx, param ? decodeURIComponent(param) : undefined) || null;
  } catch (error) {
    mount(root, h("p", { class: "content banner banner-bad" }, t("err.generic", { message: error.message })));
  }
}

applyLang();
onLangChange(() => {
  applyLang();
  if (current?.render) current.render();
  else route_();
});
window.addEventListener("hashchange", route_);
syncHttp(3);
route_();
