// One phone's recording of one sitting: recorder (IndexedDB first) + tus uploader + wake lock + the
// recording.started/stopped messages. Both apps use it the same way:
//   const capture = new Capture({...}); await capture.init();   // resumes an unfinished upload after a reload
//   await capture.begin(stream);  // at answer start (continues the same file after a reload)
//   await capture.end();          // at answer end, a stop command or a manual stop

import { Recorder, closeLeftover } from "./recorder.js";
import * as store from "./store.js";
import { Uploader } from "./uploader.js";
import { WakeLock } from "./media.js";

export class Capture {
  /**
   * @param {object} o
   * @param {"main"|"aux"} o.role
   * @param {string} o.sittingId
   * @param {() => string} o.token
   * @param {import("./ws.js").Channel} o.channel
   * @param {import("./events.js").EventReporter} o.events
   * @param {() => Promise<object|null>} o.verify   see Uploader
   * @param {(status: object) => void} o.onChange
   * @param {(error: object) => void} o.onUnauthorized   the server refused this phone's token (see Uploader)
   */
  constructor({ role, sittingId, token, channel, events, verify, onChange = () => {}, onUnauthorized = () => {} }) {
    this.role = role;
    this.sittingId = sittingId;
    this.key = store.recordingKey(role, sittingId);
    this.channel = channel;
    this.events = events;
    this.onChange = onChange;
    this.wakeLock = new WakeLock();
    this.progress = { state: "idle", acked: 0, written: 0, total: null, stopped: false };
    this.recorder = new Recorder({
      key: this.key,
      sittingId,
      role,
      onChunk: () => {
        this.uploader.kick();
        this.refreshProgress();
      },
      onEvent: (kind, details) => this.events?.report(kind, details),
    });
    this.uploader = new Uploader({
      key: this.key,
      token,
      verify,
      onUnauthorized,
      onProgress: (progress) => {
        this.progress = progress;
        this.onChange(this.status());
      },
    });
  }

  status() {
    return { recording: this.recorder.recording, ...this.progress };
  }

  /** What is stored changed (a chunk, the stop): show it now, not when the uploader next reports (a slow PATCH may
   * take a while). */
  async refreshProgress() {
    const record = await store.getRecording(this.key);
    if (!record || this.progress.state === "verified") return;
    this.progress = { ...this.progress, written: record.bytesWritten, total: record.totalLength ?? null, stopped: Boolean(record.stopped) };
    this.onChange(this.status());
  }

  /** After a (re)load: an unfinished recording of this sitting goes on uploading. Returns the stored record. */
  async init() {
    const record = await store.getRecording(this.key);
    if (record && !record.verified) this.uploader.start();
    if (record?.verified) {
      this.progress = { state: "verified", acked: record.totalLength ?? record.ackedOffset, written: record.bytesWritten, total: record.totalLength, stopped: true, result: record.result, rejected: record.rejected?.length ?? 0 };
    }
    return record;
  }

  async record() {
    return store.getRecording(this.key);
  }

  /** Start or continue recording; false when this sitting's recording was already stopped. Calls that overlap
   * (a tick and a push at the answer start) share one start: never two recorders on one recording. */
  begin(stream) {
    if (!this.beginning) this.beginning = this.startRecording(stream).finally(() => (this.beginning = null));
    return this.beginning;
  }

  async startRecording(stream) {
    if (this.halted) return false;
    if (this.recorder.recording) return true;
    const record = await this.recorder.start(stream);
    this.uploader.start();
    if (!record) return false;
    this.wakeLock.acquire();
    this.announce("recording.started", { segment: record.segments, mime: record.mime });
    this.onChange(this.status());
    return true;
  }

  /**
   * This phone is out (another phone took its role over): stop recording and uploading, keep every chunk and leave
   * the recording open, so this phone, logged in again, continues the same file and upload. Resolves once nothing
   * of it runs any more.
   */
  halt() {
    this.halting ??= (async () => {
      this.halted = true;
      await this.beginning?.catch(() => {});
      await this.recorder.pause();
      await this.wakeLock.release();
      await this.uploader.halt();
      await this.refreshProgress();
      this.onChange(this.status());
    })();
    return this.halting;
  }

  /** Stop for good (answer end, a stop command, a manual stop). */
  async end(reason = "answer_end") {
    if (this.halted) return this.record();
    const wasRecording = this.recorder.recording;
    const record = wasRecording ? await this.recorder.stop() : await closeLeftover(this.key);
    await this.wakeLock.release();
    if (wasRecording) this.announce("recording.stopped", { reason, bytes: record?.totalLength ?? null });
    if (record) this.uploader.start();
    await this.refreshProgress();
    this.onChange(this.status());
    return record;
  }

  announce(type, details) {
    const message = { type, client_at: new Date().toISOString(), details };
    if (!this.channel?.send(message)) this.events?.report(type.replace(".", "_"), details);
  }
}
