// One timeline of the answer window under the two videos: a lane per phone with its recording's span and flags, a
// lane for what the phones and the server reported (interruptions, live checks), a lane for reviewers' incidents,
// and the playhead. Clicking a marker or the lane seeks both videos.

import { t } from "/common/i18n.js";
import { fmtSeconds, h } from "/common/ui.js";
import { flagLabel } from "./flag-kinds.js";

/** "12:05" for an offset in seconds. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * span: seconds of the answer window; lanes: [{key, label, spans: [{from, to}], marks: [{id, from, to, label, kind,
 * tone}]}]; onSeek(seconds, mark?).
 */
export function timeline({ span, lanes, onSeek }) {
  const pct = (s) => `${(Math.max(0, Math.min(span, s)) / span) * 100}%`;
  const playhead = h("div", { class: "playhead", dataset: { test: "playhead" } });

  function seekFrom(event, track) {
    const box = track.getBoundingClientRect();
    onSeek(((event.clientX - box.left) / box.width) * span);
  }

  function lane(spec) {
    const track = h(
      "div",
      { class: "track", onclick: (event) => seekFrom(event, track) },
      spec.spans.map((s) => h("div", { class: "covered", style: { left: pct(s.from), width: `calc(${pct(s.to)} - ${pct(s.from)})` } })),
      spec.marks.map((m) =>
        h(
          "button",
          {
            type: "button",
            class: `mark mark-${m.tone || "warn"}${m.to - m.from < span / 200 ? " instant" : ""}`,
            style: { left: pct(m.from), width: `max(6px, calc(${pct(m.to)} - ${pct(m.from)}))` },
            title: `${m.label} · ${clock(m.from)}–${clock(m.to)} (${fmtSeconds(m.to - m.from)})`,
            dataset: { test: "mark", id: m.id, kind: m.kind, lane: spec.key },
            onclick: (event) => {
              event.stopPropagation();
              onSeek(m.from, m);
            },
          },
        ),
      ),
    );
    return h("div", { class: "lane", dataset: { lane: spec.key } }, h("span", { class: "lane-label" }, spec.label), track);
  }

  const ticks = [];
  // About 5–10 ticks whatever the window's length (a 20 s mock: every 5 s; a 10 min interview: every minute).
  const step = [5, 10, 30, 60, 120, 300, 600].find((n) => span / n <= 10) || 1200;
  for (let s = 0; s <= span; s += step) ticks.push(h("span", { class: "tick", style: { left: pct(s) } }, clock(s)));

  const el = h(
    "div",
    { class: "timeline", dataset: { test: "timeline" } },
    h("div", { class: "lanes" }, lanes.map(lane), h("div", { class: "scale" }, h("span", { class: "lane-label" }), h("div", { class: "ticks" }, ticks, playhead))),
  );
  return {
    el,
    at(seconds) {
      playhead.style.left = pct(seconds);
    },
  };
}

/** Lanes of a sitting from its flags answer and review sheet (every time as an offset from answer start). */
export function lanesOf({ flags, sheet, recordings, startsAt, reasonLabel }) {
  const offset = (iso) => (Date.parse(iso) - Date.parse(startsAt)) / 1000;
  const mark = (f) => ({
    id: f.id,
    from: offset(f.started_at),
    to: offset(f.ended_at),
    kind: f.kind,
    label: `${flagLabel(f.kind)}${f.source === "live" ? ` · ${t("console.review.live")}` : ""}`,
    tone: f.source === "event" ? "info" : "warn",
  });
  const lanes = ["main", "aux"].map((role) => ({
    key: role,
    label: t(`app.${role}`),
    spans: recordings.filter((r) => r.role === role && r.offset !== null).map((r) => ({ from: r.offset, to: r.offset + (r.duration || 0) })),
    marks: flags.filter((f) => f.role === role && f.source === "recording").map(mark),
  }));
  lanes.push({ key: "events", label: t("console.review.lane_events"), spans: [], marks: flags.filter((f) => f.source !== "recording").map(mark) });
  lanes.push({
    key: "incidents",
    label: t("console.review.lane_incidents"),
    spans: [],
    marks: sheet.incidents.map((i) => ({ id: i.id, from: i.offset_s, to: i.offset_s, kind: i.reason_code, label: reasonLabel(i.reason_code), tone: "bad" })),
  });
  return lanes;
}
