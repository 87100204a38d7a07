import { getLang } from "./i18n.js";

// The server clock is the only truth. The phone estimates its offset NTP-style and shows every countdown in
// server time: serverNow() = Date.now() + offset.
//
// A sample is (offset, round trip). Over the WebSocket: t0 (phone sends), t1/t2 (server receives/sends), t3
// (phone receives): offset = ((t1 - t0) + (t2 - t3)) / 2, rtt = (t3 - t0) - (t2 - t1). Over HTTP
// (GET /api/v1/time) the server time is taken as the midpoint of the request. The estimate is the offset of the
// sample with the smallest round trip among the recent ones (the least delayed, the least skewed).
//
// Round trips are measured with performance.now() (monotonic: the phone's clock being set, or NTP slewing it,
// mid-request cannot make one negative or huge); t3 is t0 plus that measured trip. Date.now() only anchors t0.

const KEEP = 12;
const samples = [];
let offset = 0;
let synced = false;
const listeners = new Set();

export function serverNow() {
  return Date.now() + offset;
}

export function clockOffset() {
  return offset;
}

export function isSynced() {
  return synced;
}

export function onClockChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function addSample(sampleOffset, rtt) {
  if (!Number.isFinite(sampleOffset) || !Number.isFinite(rtt) || rtt < 0) return;
  // Each sample is the true offset ± rtt/2. A new one outside the current estimate's bounds means one of the
  // clocks stepped (the phone's clock was set, the server's moved): the old samples no longer describe it.
  const best = samples.length ? samples.reduce((a, b) => (b.rtt < a.rtt ? b : a)) : null;
  if (best && Math.abs(sampleOffset - best.offset) > (rtt + best.rtt) / 2 + 50) samples.length = 0;
  samples.push({ offset: sampleOffset, rtt, at: Date.now() });
  while (samples.length > KEEP) samples.shift();
  offset = samples.reduce((a, b) => (b.rtt < a.rtt ? b : a)).offset;
  synced = true;
  for (const fn of listeners) fn(offset);
}

// Pings on their way: t0 → performance.now() when sent (a few at a time; one that is never answered is pruned).
const pending = new Map();

/** A `time.pong` message answering a `time.ping` we sent with t0. */
export function onPong({ t0, t1, t2 }) {
  const sent = pending.get(t0);
  if (sent === undefined) return; // not ours, or answered already
  pending.delete(t0);
  const t3 = t0 + (performance.now() - sent);
  addSample((t1 - t0 + (t2 - t3)) / 2, t3 - t0 - (t2 - t1));
}

export function pingMessage() {
  let t0 = Date.now();
  while (pending.has(t0)) t0 += 1; // pings sent in the same millisecond keep apart
  pending.set(t0, performance.now());
  for (const [key, at] of pending) if (performance.now() - at > 60000) pending.delete(key);
  return { type: "time.ping", t0 };
}

/** Sample the clock over HTTP `count` times (used before a device socket exists). */
export async function syncHttp(count = 3) {
  for (let i = 0; i < count; i += 1) {
    const t0 = Date.now();
    const sent = performance.now();
    try {
      const response = await fetch("/api/v1/time", { cache: "no-store" });
      const body = await response.json();
      const rtt = performance.now() - sent;
      addSample(body.epoch_ms - (t0 + rtt / 2), rtt);
    } catch {
      return synced; // offline: keep the last estimate
    }
  }
  return synced;
}

/** Milliseconds from server-now until an ISO instant (negative once it passed). */
export function msUntil(iso) {
  return Date.parse(iso) - serverNow();
}

/** "1:02:03" or "02:03" for a countdown; never negative. */
export function formatCountdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(s).padStart(2, "0");
  if (h >= 24) return `${Math.floor(h / 24)}${getLang() === "en" ? "d" : "天"} ${String(h % 24).padStart(2, "0")}:${mm}:${ss}`;
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
