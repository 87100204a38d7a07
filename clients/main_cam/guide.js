// Positioning guide (摆放手机): where both phones go, shown once per sitting (a reload does not bring it back).

import { t } from "/common/i18n.js";
import { previewWrap } from "/common/sitting-view.js";
import { h } from "/common/ui.js";

const guideKey = (sittingId) => `dualcam.guide.${sittingId}`;

export function guideDone(sittingId) {
  return localStorage.getItem(guideKey(sittingId)) === "1";
}

export function guideStage(view) {
  const done = () => {
    view.guideDone = true;
    localStorage.setItem(guideKey(view.sittingId), "1");
    view.render();
  };
  return h(
    "section",
    { class: "card", dataset: { test: "guide" } },
    // No "aux connected" banner: the top bar's pill says it, and keeps saying it live.
    h("h2", {}, t("guide.title")),
    previewWrap(view.video),
    guideDiagram(),
    h("p", {}, t("guide.main")),
    h("p", {}, t("guide.aux")),
    h("p", { class: "muted" }, t("guide.tips")),
    h("button", { class: "btn btn-block", dataset: { action: "guide-done" }, onclick: done }, t("guide.done")),
  );
}

/** The two phones seen from above: candidate, desk, main in front, aux behind to the side at ~45°. */
function guideDiagram() {
  const svg = `<svg viewBox="0 0 240 160" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="positioning">
  <rect x="70" y="60" width="100" height="40" rx="4" fill="#d0d7de"/>
  <circle cx="120" cy="115" r="14" fill="#57606a"/>
  <rect x="112" y="20" width="16" height="28" rx="3" fill="#1f6feb"/>
  <text x="120" y="14" font-size="11" text-anchor="middle" fill="#1f6feb">主机位 1 m</text>
  <rect x="200" y="132" width="16" height="24" rx="3" fill="#bc4c00" transform="rotate(-45 208 144)"/>
  <text x="196" y="126" font-size="11" text-anchor="middle" fill="#bc4c00">辅机位 1.5 m</text>
  <line x1="120" y1="50" x2="120" y2="100" stroke="#1f6feb" stroke-dasharray="4"/>
  <line x1="200" y1="136" x2="128" y2="70" stroke="#bc4c00" stroke-dasharray="4"/>
</svg>`;
  return h("div", { class: "center", html: svg });
}
