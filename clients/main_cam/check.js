// Device check (设备检测): camera, microphone, network round trip, upload speed estimate, free storage, battery.

import { getStream, micLevel, preview } from "/common/media.js";
import { t } from "/common/i18n.js";
import { fmtBytes, h, header, mount } from "/common/ui.js";

const MIN_FREE_BYTES = 1024 ** 3;

async function roundTrip(samples = 5) {
  const times = [];
  for (let i = 0; i < samples; i += 1) {
    const start = performance.now();
    const response = await fetch("/api/v1/time", { cache: "no-store" });
    await response.json();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Upload speed estimate without spending the candidate's data on a test upload: the browser's own estimate
 * (Network Information API) where it has one. The real throughput shows on the upload screen.
 */
function uploadEstimate() {
  const c = navigator.connection;
  if (!c) return null;
  if (Number.isFinite(c.downlink) && c.downlink > 0) return { mbps: c.downlink, type: c.effectiveType || c.type || "" };
  return c.effectiveType ? { mbps: null, type: c.effectiveType } : null;
}

export function checkScreen(root, ctx) {
  const results = {};
  let video = null;
  let level = 0;
  let micRunning = true;
  let stopMic = () => {};
  let alive = true;

  function set(name, ok, text) {
    results[name] = { ok, text };
    if (alive) render();
  }

  async function run() {
    for (const key of Object.keys(results)) delete results[key];
    render();
    try {
      const stream = await getStream();
      video = preview(stream);
      const settings = stream.getVideoTracks()[0]?.getSettings() || {};
      set("camera", true, `${settings.width || "?"}×${settings.height || "?"}`);
      const hasAudio = stream.getAudioTracks().some((track) => track.readyState === "live");
      set("microphone", hasAudio, hasAudio ? t("check.ok") : t("check.fail"));
      stopMic();
      stopMic = micLevel(stream, (value, running) => {
        level = value;
        patchMeter(value);
        if (running !== micRunning) {
          micRunning = running;
          render();
        }
      });
    } catch {
      set("camera", false, t("err.camera"));
      set("microphone", false, t("err.camera"));
    }
    try {
      const rtt = await roundTrip();
      set("network", rtt < 1000, `${Math.round(rtt)} ms`);
    } catch {
      set("network", false, t("err.network"));
    }
    const up = uploadEstimate();
    set("upload", up ? up.mbps === null || up.mbps >= 1 : null, up ? `${up.mbps ? `${up.mbps} Mbps` : ""} ${up.type}`.trim() : t("check.unsupported"));
    try {
      const { quota, usage } = await navigator.storage.estimate();
      const free = quota - (usage || 0);
      set("storage", free >= MIN_FREE_BYTES, free >= MIN_FREE_BYTES ? t("check.storage_value", { value: fmtBytes(free) }) : t("check.storage_low"));
    } catch {
      set("storage", null, t("check.unsupported"));
    }
    try {
      const battery = await navigator.getBattery();
      const pct = `${Math.round(battery.level * 100)}%`;
      set("battery", battery.charging, battery.charging ? `${pct} · ${t("check.charging")}` : `${pct} · ${t("check.not_charging")}`);
      battery.onchargingchange = () => run();
    } catch {
      set("battery", null, t("check.unsupported"));
    }
  }

  /** The meter is patched in place 25 times a second; its value is also in data-level (0..1) and aria-valuenow. */
  function patchMeter(value) {
    const meter = root.querySelector("[data-test=mic-level]");
    if (!meter) return;
    meter.dataset.level = value.toFixed(2);
    meter.setAttribute("aria-valuenow", String(Math.round(value * 100)));
    meter.firstElementChild.style.width = `${Math.round(value * 100)}%`;
  }

  function meter() {
    const pct = Math.round(level * 100);
    return h(
      "span",
      { class: "meter", role: "meter", "aria-label": t("check.microphone"), "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct), dataset: { test: "mic-level", level: level.toFixed(2) } },
      h("div", { style: { width: `${pct}%` } }),
    );
  }

  function row(name, label) {
    const r = results[name];
    const pill = !r ? h("span", { class: "pill" }, "…") : h("span", { class: `pill ${r.ok === true ? "pill-ok" : r.ok === false ? "pill-bad" : "pill-warn"}` }, r.ok === false ? t("check.fail") : r.ok ? t("check.ok") : "?");
    return h("li", { dataset: { check: name, ok: r ? String(r.ok) : "" } }, h("div", {}, h("div", {}, label), h("div", { class: "muted small" }, r?.text || "")), pill);
  }

  function render() {
    const done = ["camera", "microphone", "network", "upload", "storage", "battery"].every((k) => k in results);
    const bad = Object.values(results).some((r) => r.ok === false);
    mount(
      root,
      header(t("check.title"), h("a", { class: "btn-link", href: "#/home" }, t("common.back"))),
      h(
        "main",
        {},
        h("div", { class: "preview-wrap" }, video),
        h("div", { class: "row muted small" }, t("check.microphone"), meter()),
        !micRunning && h("div", { class: "banner banner-info", dataset: { test: "mic-tap" } }, t("check.mic_tap")),
        h(
          "section",
          { class: "card" },
          h(
            "ul",
            { class: "checks" },
            row("camera", t("check.camera")),
            row("microphone", t("check.microphone")),
            row("network", t("check.network")),
            row("upload", t("check.upload")),
            row("storage", t("check.storage")),
            row("battery", t("check.battery")),
          ),
        ),
        results.battery && results.battery.ok === false && h("div", { class: "banner banner-warn", dataset: { test: "charging-warning" } }, t("check.not_charging")),
        done && h("div", { class: `banner ${bad ? "banner-warn" : "banner-ok"}`, dataset: { test: "check-summary" } }, bad ? t("check.some_fail") : t("check.all_ok")),
        h("button", { class: "btn btn-secondary btn-block", onclick: run }, t("check.run")),
      ),
    );
  }

  run();
  return {
    render,
    destroy() {
      alive = false;
      stopMic();
    },
  };
}
