// The phone's realtime channel (/api/v1/ws?token=…): reconnects with back-off, estimates the clock offset with
// time.ping, sends heartbeats every `heartbeat_seconds` (from `hello`) with battery, charging, network, free
// storage and visibility. Pub/sub can drop messages, so after every (re)connect the app reloads its state over REST
// (the `onHello` callback). Close codes from the server: 4401 token invalid, 4409 superseded by a newer phone of the
// same role, 4410 sitting over, 4408 silent too long: the first three end the channel for good.

import { onPong, pingMessage } from "./clock.js";

const FINAL_CLOSE = { 4401: "unauthorized", 4409: "superseded", 4410: "sitting_over" };
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

export async function telemetry() {
  const beat = { visibility: document.visibilityState === "hidden" ? "hidden" : "visible" };
  try {
    if (navigator.getBattery) {
      const battery = await navigator.getBattery();
      beat.battery = Math.round(battery.level * 100) / 100;
      beat.charging = Boolean(battery.charging);
    }
  } catch {
    // not offered (Safari, Firefox): the heartbeat simply omits it
  }
  const connection = navigator.connection;
  beat.network = navigator.onLine === false ? "offline" : String(connection?.effectiveType || connection?.type || "unknown").slice(0, 32);
  try {
    if (navigator.storage?.estimate) {
      const { quota, usage } = await navigator.storage.estimate();
      if (Number.isFinite(quota)) beat.free_storage = Math.max(0, Math.floor(quota - (usage || 0)));
    }
  } catch {
    // storage estimate refused: omit
  }
  return beat;
}

export class Channel {
  /**
   * @param {object} o
   * @param {() => string|null} o.token   the device token (read on every connect)
   * @param {(msg: object) => void} o.onMessage  every server message but time.pong
   * @param {(hello: object) => void} o.onHello  after each (re)connect: reload state over REST here
   * @param {(status: string) => void} o.onStatus  "connecting" | "open" | "down" | "unauthorized" | "superseded" | "sitting_over"
   */
  constructor({ token, onMessage = () => {}, onHello = () => {}, onStatus = () => {} }) {
    this.token = token;
    this.onMessage = onMessage;
    this.onHello = onHello;
    this.onStatus = onStatus;
    this.ws = null;
    this.status = "idle";
    this.attempt = 0;
    this.timers = [];
    this.stopped = false;
    this.heartbeatSeconds = 10;
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => this.drop();
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.connect();
  }

  stop(status = "idle") {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    this.clearTimers();
    clearTimeout(this.retryTimer);
    if (this.ws) {
      this.ws.onclose = null;
      try {
        this.ws.close(1000);
      } catch {
        // already closed
      }
      this.ws = null;
    }
    this.setStatus(status);
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN && this.status === "open";
  }

  send(message) {
    if (!this.open) return false;
    try {
      this.ws.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }

  clearTimers() {
    for (const id of this.timers) clearInterval(id);
    this.timers = [];
  }

  connect() {
    if (this.stopped) return;
    const token = this.token();
    if (!token) return this.setStatus("unauthorized");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    this.setStatus("connecting");
    ws.onmessage = (event) => this.receive(event);
    ws.onclose = (event) => this.closed(ws, event);
    ws.onerror = () => {}; // onclose follows
  }

  receive(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === "time.pong") return onPong(message);
    if (message.type === "hello") {
      this.attempt = 0;
      this.heartbeatSeconds = message.heartbeat_seconds || 10;
      this.setStatus("open");
      this.startTimers();
      try {
        this.onHello(message);
      } finally {
        this.onMessage(message);
      }
      return;
    }
    this.onMessage(message);
  }

  startTimers() {
    this.clearTimers();
    // A burst of pings for a quick first estimate, then one with every heartbeat (a stepped server clock or a
    // drifting phone clock is noticed within one heartbeat period).
    for (let i = 0; i < 4; i += 1) setTimeout(() => this.send(pingMessage()), i * 150);
    const beat = async () => {
      this.send(pingMessage());
      this.send({ type: "heartbeat", ...(await telemetry()) });
    };
    beat();
    this.timers.push(setInterval(beat, this.heartbeatSeconds * 1000));
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.clearTimers();
    const final = FINAL_CLOSE[event.code];
    if (final) {
      this.stop(final);
      return;
    }
    this.setStatus("down");
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), base * (0.75 + Math.random() * 0.5));
  }

  /** The network went away: a real phone's socket dies with it, so do not wait for TCP to notice. */
  drop() {
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = null;
    ws.onclose = null;
    try {
      ws.close(4000, "offline");
    } catch {
      // ignore
    }
    this.clearTimers();
    this.setStatus("down");
    this.scheduleRetry();
  }

  reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  }
}
