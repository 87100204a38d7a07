// The screen of a phone whose role another phone took over, and the line the phone that took over shows. Both apps
// use them: the time is the server's (when the other phone logged in), in the exam's timezone and labelled with it;
// the support contacts come with the server's notice (the aux phone has no candidate log-in to load the exam with).

import { t, tParts } from "./i18n.js";
import { DEFAULT_TIME_ZONE, h, zoneLabel } from "./ui.js";

/** HH:MM:SS of an instant in a timezone, with the zone's name, as a <time> like every time the phones show. */
function clockTime(iso, timeZone = DEFAULT_TIME_ZONE) {
  const clock = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(new Date(Date.parse(iso)));
  return h("time", { datetime: new Date(Date.parse(iso)).toISOString(), dataset: { time: timeZone } }, `${clock} ${zoneLabel(timeZone)}`);
}

function supportLines(support) {
  const entries = [
    ["phone", "replaced.support_phone"],
    ["qq", "replaced.support_qq"],
    ["wechat", "replaced.support_wechat"],
    ["hours", "replaced.support_hours"],
  ].filter(([key]) => support?.[key]);
  if (!entries.length) return h("p", { dataset: { test: "replaced-support" } }, t("replaced.support_none"));
  return h(
    "ul",
    { class: "support-list", dataset: { test: "replaced-support" } },
    entries.map(([key, label]) => h("li", { dataset: { support: key } }, t(label, { v: support[key] }))),
  );
}

/**
 * The full screen: when it was replaced, that recording and uploading stopped (nothing is lost), what to do, whom
 * to call, and the way back: `onRelogin` on the main phone; on the aux phone the button opens how to pair again.
 * @param {object} o
 * @param {{at, timeZone, support, role}} o.notice   DeviceSession.replaced
 * @param {"main"|"aux"} o.role
 * @param {object|null} o.fallbackSupport   the exam's support contacts where the notice has none
 * @param {() => void} o.onRelogin
 * @param {boolean} o.busy
 * @param {boolean} o.repairShown   aux: the pairing steps are open
 * @param {string|null} o.error
 */
export function replacedScreen({ notice, role, fallbackSupport = null, onRelogin, busy = false, repairShown = false, error = null }) {
  const timeZone = notice?.timeZone || DEFAULT_TIME_ZONE;
  const title = notice?.at ? tParts("replaced.title", { time: clockTime(notice.at, timeZone) }) : t("replaced.title_no_time");
  const support = notice?.support && Object.values(notice.support).some(Boolean) ? notice.support : fallbackSupport;
  return h(
    "section",
    { class: "card takeover", dataset: { test: "replaced", role, at: notice?.at || "" } },
    h("h2", { class: "takeover-title", dataset: { test: "replaced-time" } }, title),
    h("p", {}, t("replaced.stopped")),
    h("h3", {}, t("replaced.what")),
    h("p", {}, t("replaced.use_new")),
    h("p", {}, t("replaced.not_you")),
    supportLines(support),
    error && h("div", { class: "banner banner-bad", dataset: { test: "error" } }, error),
    h(
      "button",
      { class: "btn btn-block", type: "button", disabled: busy, dataset: { action: "relogin" }, onclick: () => onRelogin() },
      busy ? t("replaced.relogin_busy") : t("replaced.relogin"),
    ),
    h("p", { class: "muted small" }, role === "aux" ? t("replaced.relogin_aux") : t("replaced.relogin_main")),
    role === "aux" && repairShown && repairSteps(),
  );
}

/** How a replaced aux phone comes back: it has no account; it scans the main phone's code again. */
function repairSteps() {
  return h(
    "div",
    { class: "banner banner-info", dataset: { test: "repair-steps" } },
    h("strong", {}, t("replaced.repair_title")),
    h("p", {}, t("replaced.repair_step1")),
    h("p", {}, t("replaced.repair_step2")),
    h("p", { class: "small" }, t("replaced.repair_note")),
  );
}

/** On the phone that took over: one line saying it replaced another one, and when. */
export function replacedOtherLine(replacedAt, timeZone = DEFAULT_TIME_ZONE) {
  if (!replacedAt) return null;
  return h("div", { class: "banner banner-info small", dataset: { test: "replaced-other" } }, tParts("replaced.other", { time: clockTime(replacedAt, timeZone) }));
}
