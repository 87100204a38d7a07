// Main camera app (主机位, the 小艺帮 role): routing and the candidate's session. Screens live in their own
// modules; each is mount(root, ctx, param) → {render?(), destroy?()}. Routes are hashes so a reload comes back to
// the same screen (the sitting screen resumes an unfinished recording and its upload).

import { apiClient } from "/common/api.js";
import { syncHttp } from "/common/clock.js";
import { applyLang, onLangChange, t } from "/common/i18n.js";
import { registerServiceWorker } from "/common/pwa.js";
import { mount, h } from "/common/ui.js";
import { checkScreen } from "./check.js";
import { confirmScreen, homeScreen, identityScreen, loginScreen } from "./home.js";
import { sessionsScreen } from "./sessions.js";
import { sittingScreen } from "./sitting.js";

const TOKEN_KEY = "dualcam.main.candidate";

function loadToken() {
  try {
    const saved = JSON.parse(localStorage.getItem(TOKEN_KEY) || "null");
    // Expiry is the server's call (its clock, not the phone's): a 401 sends the candidate back to log-in.
    if (saved?.token) return saved.token;
  } catch {
    // corrupt entry: log in again
  }
  return null;
}

const ctx = {
  token: loadToken(),
  me: null,
  exam: null,
  api: null,
  afterLogin: null, // the route to go back to after the log-in screen (a sitting whose phone logs in again)
  setToken(token, expiresAt) {
    ctx.token = token;
    ctx.me = null;
    ctx.exam = null;
    if (token) localStorage.setItem(TOKEN_KEY, JSON.stringify({ token, expires_at: expiresAt }));
    else localStorage.removeItem(TOKEN_KEY);
  },
  go(route) {
    if (location.hash === `#/${route}`) route_();
    else location.hash = `#/${route}`;
  },
  async profile(force = false) {
    if (force || !ctx.me || !ctx.exam) {
      [ctx.me, ctx.exam] = await Promise.all([ctx.api.get("/api/v1/candidate/me"), ctx.api.get("/api/v1/candidate/exam")]);
    }
    return { me: ctx.me, exam: ctx.exam };
  },
  logout() {
    ctx.api.post("/api/v1/auth/logout").catch(() => {});
    ctx.setToken(null);
    ctx.go("login");
  },
};

ctx.api = apiClient({
  getToken: () => ctx.token,
  onUnauthorized: () => {
    if (!ctx.token) return; // a failed log-in, not an expired session
    ctx.setToken(null);
    if (!location.hash.startsWith("#/sitting/")) ctx.go("login");
  },
});

const SCREENS = {
  login: loginScreen,
  home: homeScreen,
  confirm: confirmScreen,
  identity: identityScreen,
  check: checkScreen,
  sessions: sessionsScreen,
  sitting: sittingScreen,
};

const root = document.getElementById("app");
let current = null;

function route_() {
  const [name, param] = location.hash.replace(/^#\/?/, "").split("/");
  let screen = SCREENS[name] ? name : ctx.token ? "home" : "login";
  // The sitting screen works on its own device token; every other screen needs the candidate log-in.
  if (screen !== "login" && screen !== "sitting" && !ctx.token) screen = "login";
  current?.destroy?.();
  current = null;
  document.body.dataset.screen = screen;
  try {
    current = SCREENS[screen](root, ctx, param) || null;
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
registerServiceWorker("/main/sw.js");
