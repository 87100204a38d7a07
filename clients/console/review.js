// A sitting's review: both recordings side by side under one control (play/pause, seek, speed 0.5–4×, ±5 s), one
// timeline of the answer window with every flag, event and incident, the candidate's identity evidence and question,
// and the panel to mark flags and decide. Keys: space play/pause · ←/→ ±5 s · n/p next/previous flag · [ ] speed.
// The videos are built once; a reload after an action only redraws the panel and the timeline.

import { t } from "/common/i18n.js";
import { errorText, h, mount, timeEl } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import { Pictures, questionList } from "./pictures.js";
import { RATES, syncedPlayer } from "./player.js";
import { reasonLabel, reviewPanel } from "./review-panel.js";
import { clock, lanesOf, timeline } from "./timeline.js";
import "./review-strings.js";

export function page(root, ctx, sittingId) {
  const base = `/api/v1/ops/sittings/${sittingId}`;
  const s = { sheet: null, flags: [], reasons: [], recordings: [], selected: null };
  let player = null;
  let line = null;
  let videos = null;
  let error = null;
  const pictures = new Pictures(ctx.api);
  const slots = { panel: h("div"), line: h("div"), info: h("div"), position: h("span", { class: "position", dataset: { test: "position" } }, "00:00") };

  async function load() {
    try {
      const [sheet, flags, reasons] = await Promise.all([ctx.api.get(`${base}/review`), ctx.api.get(`${base}/flags`), s.reasons.length ? s.reasons : ctx.api.get("/api/v1/ops/review/reason-codes")]);
      Object.assign(s, { sheet, flags: flags.flags, reasons, starts: flags.recording_started_at });
      if (!videos) await loadVideos();
      error = null;
    } catch (e) {
      error = errorText(e);
    }
    render();
  }

  async function loadVideos() {
    const starts = Date.parse(s.sheet.answer_starts_at);
    s.recordings = (await ctx.api.get(`${base}/recordings`)).map((r) => ({
      ...r,
      offset: s.starts?.[r.role] ? (Date.parse(s.starts[r.role]) - starts) / 1000 : r.url ? 0 : null,
      duration: r.duration_seconds,
    }));
    videos = s.recordings.map((r) => ({
      role: r.role,
      offset: r.offset ?? 0,
      rec: r,
      el: h("video", { playsinline: true, dataset: { test: `video-${r.role}` }, src: r.playback_url || r.url || undefined }),
    }));
    const span = (Date.parse(s.sheet.answer_ends_at) - starts) / 1000;
    player = syncedPlayer(
      videos.filter((v) => v.el.getAttribute("src")),
      { span, onTick: (at) => tick(at) },
    );
  }

  function tick(at) {
    line?.at(at);
    slots.position.textContent = `${clock(at)} / ${clock(spanOf())}`;
    slots.position.dataset.seconds = at.toFixed(2);
    slots.position.dataset.drift = player ? player.drift.toFixed(3) : "0";
  }

  const spanOf = () => (Date.parse(s.sheet.answer_ends_at) - Date.parse(s.sheet.answer_starts_at)) / 1000;

  function seek(at, mark) {
    if (mark) s.selected = mark.id;
    player?.seek(at);
    if (mark) drawPanel();
  }

  function flagAt(direction) {
    const starts = Date.parse(s.sheet.answer_starts_at);
    const times = s.flags.map((f) => ({ f, at: (Date.parse(f.started_at) - starts) / 1000 })).sort((a, b) => a.at - b.at);
    const now = player.position;
    const next = direction > 0 ? times.find((x) => x.at > now + 0.5) : [...times].reverse().find((x) => x.at < now - 0.5);
    if (next) seek(next.at, { id: next.f.id });
  }

  function onKey(event) {
    if (!player || event.target.closest?.("input, textarea, select")) return;
    const keys = { " ": () => player.toggle(), ArrowLeft: () => player.skip(-5), ArrowRight: () => player.skip(5), n: () => flagAt(1), p: () => flagAt(-1), "]": () => player.faster(), "[": () => player.slower() };
    const run = keys[event.key];
    if (!run) return;
    event.preventDefault();
    run();
    drawControls();
  }
  document.addEventListener("keydown", onKey);

  const controls = h("div", { class: "controls" });
  function drawControls() {
    if (!player) return;
    mount(
      controls,
      h("button", { class: "btn btn-small", dataset: { action: "back5" }, onclick: () => player.skip(-5) }, "−5 s"),
      h("button", { class: "btn btn-small", dataset: { action: "play" }, onclick: () => (player.toggle(), drawControls()) }, t(player.playing ? "console.review.pause" : "console.review.play")),
      h("button", { class: "btn btn-small", dataset: { action: "fwd5" }, onclick: () => player.skip(5) }, "+5 s"),
      h("label", {}, t("console.review.speed"), " ", h("select", { dataset: { test: "speed" }, onchange: (e) => player.setRate(Number(e.target.value)) }, RATES.map((r) => h("option", { value: r, selected: r === player.rate }, `${r}×`)))),
      slots.position,
      h("span", { class: "muted small" }, t("console.review.keys")),
    );
  }

  function drawPanel() {
    mount(slots.panel, reviewPanel(ctx, s, { reload: load, position: () => player?.position ?? 0, seek, startsAt: s.sheet.answer_starts_at }));
  }

  function drawLine() {
    line = timeline({ span: spanOf(), lanes: lanesOf({ flags: s.flags, sheet: s.sheet, recordings: s.recordings, startsAt: s.sheet.answer_starts_at, reasonLabel: (code) => reasonLabel(s.reasons, code) }), onSeek: seek });
    mount(slots.line, line.el);
    line.at(player?.position ?? 0);
  }

  async function drawInfo() {
    const { sheet } = s;
    const tz = sheet.timezone;
    const checks = await Promise.all(
      sheet.face_checks.map(async (c) =>
        h(
          "figure",
          { class: `still ${c.passed ? "" : "still-bad"}`, dataset: { test: "face-check", purpose: c.purpose } },
          c.image_url ? await pictures.img(c.image_url) : h("div", { class: "no-image" }),
          h("figcaption", {}, t(`console.review.check_${c.purpose}`), " ", c.similarity === null ? t("console.review.no_face") : `${c.similarity.toFixed(2)} / ${c.threshold.toFixed(2)}`, h("br"), timeEl(c.at, tz, { seconds: true })),
        ),
      ),
    );
    mount(
      slots.info,
      h(
        "section",
        { class: "identity" },
        h("h3", {}, sheet.candidate.name, " ", h("span", { class: "muted small" }, sheet.candidate.id_number_masked), " ", h("span", { class: "pill", dataset: { test: "state" } }, t(`state.${sheet.state}`))),
        h("div", { class: "stills" }, h("figure", { class: "still" }, sheet.candidate.id_photo_url ? await pictures.img(sheet.candidate.id_photo_url) : h("div", { class: "no-image" }), h("figcaption", {}, t("console.review.id_photo"))), checks),
      ),
      h(
        "section",
        { class: "question" },
        h("h3", {}, t("console.review.question")),
        sheet.questions.length ? await questionList(pictures, sheet.questions.map((text, i) => ({ text, image_url: sheet.question_images[i] }))) : h("p", { class: "muted" }, t("console.review.question_hidden")),
      ),
      h("p", { class: "muted small" }, t("console.review.window"), " ", timeEl(sheet.answer_starts_at, tz), " – ", timeEl(sheet.answer_ends_at, tz)),
      ctx.isOps ? h("p", {}, h("a", { href: `#/audit/${sheet.sitting_id}`, dataset: { test: "audit-link" } }, t("console.audit.link"))) : null,
    );
  }

  function render() {
    const title = s.sheet ? s.sheet.candidate.name : t("common.loading");
    const crumbs = [[t("console.sessions.crumb"), "#/sessions"]];
    if (s.sheet) crumbs.push([s.sheet.session_title, `#/queue/${s.sheet.session_id}`]);
    crumbs.push([title]);
    if (error || !s.sheet || !videos) {
      mount(root, consolePage(ctx, crumbs, error ? h("p", { class: "banner banner-bad", role: "alert" }, error) : h("p", { class: "muted" }, t("common.loading"))));
      return;
    }
    if (!root.querySelector(".review")) {
      const pane = (v) => h("div", { class: "pane" }, h("div", { class: "pane-title" }, t(`app.${v.role}`), v.rec.url ? original(v.rec) : h("span", { class: "muted small" }, t(`console.rec.${v.rec.status}`))), v.el);
      mount(root, consolePage(ctx, crumbs, h("div", { class: "review" }, h("div", { class: "stage" }, h("div", { class: "videos" }, videos.map(pane)), controls, slots.line, slots.info), slots.panel)));
      drawControls();
    }
    drawLine();
    drawPanel();
    drawInfo();
  }

  function original(rec) {
    return h("a", { class: "btn-link small", href: rec.original_url || rec.url, download: "", dataset: { test: `original-${rec.role}` } }, t("console.review.original"));
  }

  render();
  load();
  return {
    render: () => {
      root.replaceChildren();
      render();
    },
    destroy() {
      document.removeEventListener("keydown", onKey);
      player?.destroy();
      pictures.release();
    },
  };
}
