// What several sitting screens share: the exam's timezone and the line of the sitting's times under a step.

import { t } from "/common/i18n.js";
import { DEFAULT_TIME_ZONE, h, serverClockEl, timeEl } from "/common/ui.js";

/** The sitting names its exam's zone; before it loaded, the exam the candidate logged in for may (or the default). */
export function examTimeZone(view) {
  return view.session?.sitting?.timezone || view.ctx.exam?.timezone || DEFAULT_TIME_ZONE;
}

/** When the waiting room opens and the answer starts, and the server's clock to compare with. */
export function timesLine(view) {
  const w = view.session.windows;
  if (!w) return null;
  const tz = examTimeZone(view);
  return h(
    "p",
    { class: "muted small" },
    `${t("sessions.waiting_opens")} `,
    timeEl(w.waiting_opens_at, tz),
    ` · ${t("sessions.answer_starts")} `,
    timeEl(w.answer_starts_at, tz),
    " · ",
    serverClockEl(tz),
  );
}
