// Proctoring events from the phone: app hidden/visible, network lost/restored, charger plugged/unplugged, battery
// low, camera/microphone errors, recording started/stopped. Sent over the socket when it is open; otherwise kept in
// localStorage and posted over REST (POST /api/v1/device/events) as soon as the server can be reached, each with
// the phone's own time (client_at) of when it happened.

const LOW_BATTERY = 0.15;

export class EventReporter {
  /**
   * @param {object} o
   * @param {string} o.key        a storage key unique to the device (its id)
   * @param {import("./ws.js").Channel} o.channel
   * @param {object} o.api        apiClient bound to the device token
   */
  constructor({ key, channel, api }) {
    this.storageKey = `dualcam.events.${key}`;
    this.hiddenKey = `dualcam.hidden.${key}`;
    this.channel = channel;
    this.api = api;
    this.unloading = false;
    this.flushing = false;
    this.battery = null;
    this.lowSent = false;
    this.handlers = [];
  }

  start() {
    const on = (target, type, fn) => {
      target.addEventListener(type, fn);
      this.handlers.push([target, type, fn]);
    };
    // A page being unloaded (reload, closing the tab) is not "the candidate switched apps"; the socket closing
    // tells the server that part.
    on(window, "pagehide", () => (this.unloading = true));
    on(window, "pageshow", () => (this.unloading = false));
    on(document, "visibilitychange", () => {
      if (this.unloading) return;
      this.visibility(document.visibilityState === "hidden");
    });
    on(window, "offline", () => this.report("network_lost"));
    on(window, "online", () => {
      this.report("network_restored");
      this.flush();
    });
    if (navigator.getBattery) {
      navigator.getBattery().then(
        (battery) => {
          this.battery = battery;
          on(battery, "chargingchange", () => this.report(battery.charging ? "charger_plugged" : "charger_unplugged", { level: battery.level }));
          on(battery, "levelchange", () => this.checkLow());
          this.checkLow();
        },
        () => {},
      );
    }
    // Hidden when the page went away last time and visible now: the candidate is back.
    if (localStorage.getItem(this.hiddenKey) === "1" && document.visibilityState === "visible") this.visibility(false);
    this.flush();
  }

  stop() {
    for (const [target, type, fn] of this.handlers) target.removeEventListener(type, fn);
    this.handlers = [];
  }

  visibility(hidden) {
    localStorage.setItem(this.hiddenKey, hidden ? "1" : "0");
    this.report(hidden ? "app_hidden" : "app_visible");
  }

  checkLow() {
    const b = this.battery;
    if (!b) return;
    if (b.level <= LOW_BATTERY && !b.charging && !this.lowSent) {
      this.lowSent = true;
      this.report("battery_low", { level: b.level });
    } else if (b.level > LOW_BATTERY || b.charging) {
      this.lowSent = false;
    }
  }

  report(kind, details = {}) {
    const event = { kind, client_at: new Date().toISOString(), details };
    if (this.pending().length === 0 && this.channel.send({ type: "event", ...event })) return;
    this.keep(event);
    this.flush();
  }

  pending() {
    try {
      return JSON.parse(localStorage.getItem(this.storageKey) || "[]");
    } catch {
      return [];
    }
  }

  keep(event) {
    const list = this.pending();
    list.push(event);
    localStorage.setItem(this.storageKey, JSON.stringify(list.slice(-200)));
  }

  /** Post buffered events in order; stops at the first failure and keeps the rest. */
  async flush() {
    if (this.flushing) return;
    this.flushing = true;
    try {
      let list = this.pending();
      while (list.length) {
        try {
          await this.api.post("/api/v1/device/events", list[0]);
        } catch (error) {
          // Offline, a server failure, or this phone's log-in refused (replaced): keep them for the next log-in.
          if (error.isNetwork || error.status >= 500 || error.status === 401) break;
          // Other 4xx: the server will never take it (unknown kind, sitting over); drop it
        }
        list = this.pending().slice(1);
        localStorage.setItem(this.storageKey, JSON.stringify(list));
      }
    } finally {
      this.flushing = false;
    }
  }
}
