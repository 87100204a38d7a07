// A phone logged in for one sitting in one role: its REST client, realtime channel, event reporter and recording.
// Both apps drive the same rules from the server's state and time:
// - the sitting state comes from REST (GET /api/v1/device/sitting) and from pushes; every (re)connect reloads it;
// - at the answer start (server time) a `ready` sitting is answering: recording starts at once (the server derives
//   the same state from the same facts), and the question is fetched if the push did not bring it;
// - at the answer end, on a stop command or a manual stop, recording stops and the upload finishes;
// - a sitting that is not answering never records (an absent candidate cannot record);
// - another phone taking this phone's role over (a `command` superseded on the socket, or a 401 `device_replaced`
//   from any request) ends the session at once: recording and uploading stop, the chunks stay in IndexedDB with
//   the recording left open, the token is never sent again, and `replaced` holds when it happened and whom to call.

import { apiClient } from "./api.js";
import { serverNow, syncHttp } from "./clock.js";
import { Capture } from "./capture.js";
import { EventReporter } from "./events.js";
import { DEFAULT_TIME_ZONE } from "./ui.js";
import { Channel } from "./ws.js";

export const FINAL_STATES = new Set(["uploaded", "absent", "terminated", "incomplete"]);
const PRE_ANSWER = new Set(["scheduled", "waiting", "ready"]);

/**
 * The device token a phone kept in localStorage. Its expiry is the server's call: a 401 makes the phone log in or
 * pair again, as a missing or corrupt entry does.
 */
export function savedDevice(key) {
  try {
    const saved = JSON.parse(localStorage.getItem(key) || "null");
    if (saved?.token) return saved;
  } catch {
    // corrupt: as if none
  }
  return null;
}

export class DeviceSession {
  /**
   * @param {object} o
   * @param {"main"|"aux"} o.role
   * @param {string} o.sittingId
   * @param {() => string|null} o.token   the device token
   * @param {() => Promise<MediaStream>} o.stream   the camera + microphone to record
   * @param {(session: DeviceSession) => void} o.onChange
   * @param {(reason: string) => void} o.onClosed   unauthorized | superseded (then `replaced` holds the notice)
   */
  constructor({ role, sittingId, token, stream, onChange = () => {}, onClosed = () => {} }) {
    this.role = role;
    this.sittingId = sittingId;
    this.token = token;
    this.getStream = stream;
    this.onChange = onChange;
    this.onClosed = onClosed;
    this.replaced = null; // {role, at, timeZone, support} once another phone took this one's role over
    this.halted = Promise.resolve();
    this.api = apiClient({ getToken: token, onUnauthorized: (error) => this.unauthorized(error), closed: () => Boolean(this.closedReason) });
    this.sitting = null;
    this.peerOnline = false;
    this.paired = false;
    this.questions = null;
    this.liveStillSeconds = null; // main: the server's period of the in-exam stills (REST, hello, answer start)
    this.channelStatus = "idle";
    this.closedReason = null;
    this.lastError = null;
    this.stopped = false;
    this.ending = null;
    this.tickTimer = null;
    this.refreshing = null;
    this.channel = new Channel({
      token,
      onHello: (hello) => this.onHello(hello),
      onMessage: (message) => this.onMessage(message),
      onStatus: (status) => this.onStatus(status),
    });
    this.events = new EventReporter({ key: `${role}.${sittingId}`, channel: this.channel, api: this.api });
    this.capture = new Capture({
      role,
      sittingId,
      token,
      channel: this.channel,
      events: this.events,
      verify: () => this.verifyRecording(),
      onChange: () => this.changed(),
      onUnauthorized: (error) => this.unauthorized(error),
    });
  }

  get state() {
    return this.sitting?.state ?? null;
  }

  get windows() {
    return this.sitting?.windows ?? null;
  }

  /** The exam's timezone, which the sitting names: every time either phone shows is in it. */
  get timeZone() {
    return this.sitting?.timezone || DEFAULT_TIME_ZONE;
  }

  changed() {
    if (!this.stopped) this.onChange(this);
  }

  async start() {
    await syncHttp(2);
    // The sitting first: a token refused there (a phone replaced while it was away, reopened) is never tried on
    // the uploads.
    await this.refresh();
    if (this.closedReason) return;
    await this.capture.init();
    this.events.start();
    this.channel.start();
    this.tickTimer = setInterval(() => this.tick(), 250);
    await this.apply();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.tickTimer);
    this.channel.stop();
    this.events.stop();
  }

  async refresh() {
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      try {
        this.sitting = await this.api.get("/api/v1/device/sitting");
        this.liveStillSeconds = this.sitting.live_still_seconds ?? this.liveStillSeconds;
        this.lastError = null;
      } catch (error) {
        if (error.status !== 401) this.lastError = error; // a 401 ends the session (unauthorized)
      } finally {
        this.refreshing = null;
      }
      this.changed();
    })();
    return this.refreshing;
  }

  /**
   * The session ends for good: `superseded` (with the server's notice) or `unauthorized`. Nothing goes out with
   * this token afterwards; `halted` resolves once recording and uploading have stopped.
   */
  close(reason, notice = null) {
    if (this.closedReason || this.stopped) return;
    this.closedReason = reason;
    if (reason === "superseded") {
      this.replaced = {
        role: notice?.role || this.role,
        at: notice?.replaced_at || null,
        timeZone: notice?.timezone || null,
        support: notice?.support || null,
      };
    }
    clearInterval(this.tickTimer);
    this.channel.stop(reason);
    this.events.stop();
    this.halted = this.capture.halt();
    this.onClosed(reason);
    this.changed();
  }

  /** A request was answered 401. `device_replaced` says when and whom to call; a 401 without a body (a tus HEAD)
   * or a socket closed as superseded without the notice asks once over REST why. */
  unauthorized(error) {
    if (this.closedReason || this.stopped) return;
    if (error?.code === "device_replaced") this.close("superseded", error.details);
    else if (error?.code) this.close("unauthorized");
    else if (!this.asking) {
      this.asking = true;
      // Its 401 comes back here through onUnauthorized, with the reason; anything else: the token is refused all the same.
      this.api.get("/api/v1/device/sitting").then(
        () => this.close("unauthorized"),
        (refusal) => (refusal.status === 401 ? this.unauthorized(refusal) : this.close("unauthorized")),
      );
    }
  }

  onStatus(status) {
    this.channelStatus = status;
    if (status === "unauthorized") this.close(status);
    else if (status === "superseded") this.unauthorized(null); // the notice came first, unless it was lost
    else if (status === "sitting_over") this.refresh().then(() => this.apply());
    this.changed();
  }

  onHello(hello) {
    this.sitting = hello.sitting;
    this.peerOnline = Boolean(hello.peer?.online);
    this.liveStillSeconds = hello.live_still_seconds ?? this.liveStillSeconds;
    // Pub/sub can drop messages: reload the state over REST after every (re)connect.
    this.refresh().then(() => this.apply());
    this.events.flush();
  }

  async onMessage(message) {
    const peerRole = this.role === "main" ? "aux" : "main";
    switch (message.type) {
      case "peer.online":
        if (message.role === peerRole) this.peerOnline = true;
        break;
      case "peer.offline":
        if (message.role === peerRole) this.peerOnline = false;
        break;
      case "command":
        if (message.reason === "superseded") this.close("superseded", message);
        break;
      case "error":
        // At connect, a phone replaced while it was away: the notice, then the close (4409).
        if (message.code === "device_replaced") this.close("superseded", message.details);
        break;
      case "pair.status":
        this.paired = Boolean(message.paired);
        this.pairedAt = Date.now();
        break;
      case "phase":
        await this.onPhase(message);
        return;
      case "sitting.state":
        if (message.command === "stop") await this.endRecording("stop_command");
        await this.refresh();
        await this.apply();
        return;
      default:
        break;
    }
    this.changed();
  }

  async onPhase(message) {
    if (message.phase === "answer_start") {
      this.liveStillSeconds = message.live_still_seconds ?? this.liveStillSeconds;
      if (Array.isArray(message.questions) && this.sitting && PRE_ANSWER.has(this.sitting.state)) {
        // The server sends the question only to a sitting that is answering: start now, confirm over REST.
        this.questions = message.questions;
        this.sitting = { ...this.sitting, state: "answering" };
        await this.apply();
      }
    } else if (message.phase === "answer_end") {
      await this.endRecording("answer_end");
    }
    await this.refresh();
    await this.apply();
  }

  /** Time-based transitions in server time, so nothing waits for a push that may be late or lost. */
  tick() {
    if (!this.sitting || this.stopped) return;
    const now = serverNow();
    const w = this.sitting.windows;
    const state = this.sitting.state;
    if (state === "ready" && now >= Date.parse(w.answer_starts_at)) {
      this.sitting = { ...this.sitting, state: "answering" }; // what the server derives from the same facts
      this.apply().then(() => this.refresh());
    } else if (state === "answering" && now >= Date.parse(w.answer_ends_at)) {
      this.sitting = { ...this.sitting, state: "recorded" };
      this.endRecording("answer_end").then(() => this.refresh());
    } else if ((state === "waiting" && now >= Date.parse(w.answer_starts_at)) || (state === "scheduled" && now >= Date.parse(w.waiting_opens_at))) {
      this.refresh().then(() => this.apply());
    } else if (state === "recorded" && now >= Date.parse(w.upload_deadline)) {
      this.refresh();
    }
  }

  /** Bring the recording in line with the state. */
  async apply() {
    if (this.closedReason) return; // replaced or refused: this phone records nothing more
    const state = this.state;
    if (state === "answering" && !this.ending) {
      if (!this.capture.recorder.recording) {
        // One start at a time: apply() runs from ticks, pushes and reloads, which may overlap at the answer start.
        this.starting ??= (async () => {
          try {
            const stream = await this.getStream();
            await this.capture.begin(stream);
          } catch (error) {
            this.lastError = error;
            this.events.report("camera_error", { error: String(error.message || error) });
          }
        })().finally(() => (this.starting = null));
        await this.starting;
      }
      if (this.role === "main" && this.questions === null) this.loadQuestions();
    } else if (state && !PRE_ANSWER.has(state) && state !== "answering") {
      await this.endRecording(state);
    }
    this.changed();
  }

  async loadQuestions(attempt = 0) {
    if (this.loadingQuestions) return;
    this.loadingQuestions = true;
    try {
      const body = await this.api.get("/api/v1/device/questions");
      this.questions = body.questions;
    } catch (error) {
      // A few ms early by our clock estimate: ask again shortly.
      if (error.code === "question_not_revealed" && attempt < 20) setTimeout(() => this.loadQuestions(attempt + 1), 300);
    } finally {
      this.loadingQuestions = false;
    }
    this.changed();
  }

  async endRecording(reason) {
    if (this.ending) return this.ending;
    const record = await this.capture.record();
    if (!this.capture.recorder.recording && (!record || record.stopped)) return null;
    this.ending = this.capture.end(reason).finally(() => this.changed());
    return this.ending;
  }

  /** Manual early stop (main only): the server tells both phones; we stop at once. */
  async stopEarly() {
    this.sitting = await this.api.post("/api/v1/device/stop");
    await this.endRecording("manual_stop");
    await this.apply();
  }

  /** The server's view of this phone's recording once every byte is in; null while it cannot say. */
  async verifyRecording() {
    const sitting = await this.api.get("/api/v1/device/sitting");
    this.sitting = sitting;
    const mine = sitting.recordings?.[this.role] ?? sitting.recordings?.find?.((r) => r.role === this.role);
    if (mine) {
      if (mine.verified || mine.status === "verified") return { verified: true, duration: mine.duration_seconds ?? mine.duration ?? null, verified_at: mine.verified_at ?? null };
      if (mine.status === "failed") return { failed: true, reason: mine.failure_reason || mine.reason || "failed" };
      return null;
    }
    if (sitting.state === "uploaded") return { verified: true, duration: null };
    return null;
  }
}
