// MediaRecorder with a ~2 s timeslice. Every chunk is written to IndexedDB (store.js) before the uploader may send
// it. WebM output goes through webm.js so stored bytes end on element boundaries and a recording interrupted by a
// reload continues as the same file (see webm.js). MP4 (Safari) is stored as it comes.

import { serverNow } from "./clock.js";
import * as store from "./store.js";
import { WebmStream } from "./webm.js";

export const TIMESLICE_MS = 2000;

const PREFERRED = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm", "video/mp4;codecs=avc1,mp4a", "video/mp4"];

/** The first type this browser records: WebM (VP8/VP9 + Opus) where offered, MP4 on Safari. */
export function chooseMime() {
  if (typeof MediaRecorder === "undefined") return null;
  return PREFERRED.find((type) => MediaRecorder.isTypeSupported(type)) ?? "";
}

export class Recorder {
  /**
   * @param {object} o
   * @param {string} o.key        store.recordingKey(role, sittingId)
   * @param {string} o.sittingId
   * @param {string} o.role
   * @param {() => void} o.onChunk   a chunk is durable: wake the uploader
   * @param {(kind: string, details: object) => void} o.onEvent   camera_error, microphone_error
   */
  constructor({ key, sittingId, role, onChunk = () => {}, onEvent = () => {} }) {
    this.key = key;
    this.sittingId = sittingId;
    this.role = role;
    this.onChunk = onChunk;
    this.onEvent = onEvent;
    this.media = null;
    this.stream = null;
    this.webm = null;
    this.queue = Promise.resolve();
    this.stopping = null;
    this.startedAt = null;
  }

  get recording() {
    return Boolean(this.media) && this.media.state === "recording";
  }

  /**
   * Start (or continue, after a reload) the recording of this sitting and role.
   * Returns the stored record, or null when it was already stopped (nothing more to record).
   */
  async start(stream) {
    let record = await store.getRecording(this.key);
    if (record?.stopped) return null;
    const mime = record?.mime ?? chooseMime();
    if (mime === null) throw new Error("MediaRecorder unavailable");
    const container = mime.includes("mp4") ? "mp4" : "webm";
    if (!record) {
      record = await store.putRecording({
        key: this.key,
        sittingId: this.sittingId,
        role: this.role,
        mime,
        container,
        startedServerMs: serverNow(),
        segments: 0,
        bytesWritten: 0,
        lastTimecodeMs: 0,
        nextSeq: 0,
        uploadUrl: null,
        ackedOffset: 0,
        stopped: false,
        totalLength: null,
        lengthDeclared: false,
        verified: false,
        createdAt: Date.now(),
      });
    }
    // Nothing stored yet: start afresh (the header has not been written). Something stored: continue the file.
    const continuation = record.bytesWritten > 0;
    if (!continuation) await store.updateRecording(this.key, (r) => void (r.startedServerMs = serverNow()));
    if (continuation && container !== "webm") {
      // A fragmented MP4 cannot be continued by a second recorder: keep what was stored and finish its upload.
      await closeLeftover(this.key);
      return null;
    }
    if (container === "webm") {
      // Shift the new recorder's timeline to where it really starts in the window, after the last stored frame.
      const offsetMs = continuation ? Math.max(serverNow() - record.startedServerMs, record.lastTimecodeMs + 100) : 0;
      this.webm = new WebmStream({ continuation, offsetMs, tracks: record.tracks || null });
    } else {
      this.webm = null;
    }
    await store.updateRecording(this.key, (r) => {
      r.segments += 1;
    });
    this.stream = stream;
    const options = { videoBitsPerSecond: 600_000, audioBitsPerSecond: 48_000 };
    if (mime) options.mimeType = mime;
    const media = new MediaRecorder(stream, options);
    this.media = media;
    media.ondataavailable = (event) => {
      if (event.data && event.data.size) this.queue = this.queue.then(() => this.write(event.data)).catch((error) => this.onEvent("camera_error", { error: errorText(error) }));
    };
    media.onerror = (event) => this.onEvent("camera_error", { error: errorText(event.error || "recorder error") });
    for (const track of stream.getTracks()) {
      track.onended = () => this.onEvent(track.kind === "audio" ? "microphone_error" : "camera_error", { error: "track ended" });
    }
    this.startedAt = serverNow();
    media.start(TIMESLICE_MS);
    return store.getRecording(this.key);
  }

  async write(blob) {
    let bytes = new Uint8Array(await blob.arrayBuffer());
    let extra = {};
    if (this.webm) {
      bytes = this.webm.push(bytes);
      extra = { lastTimecodeMs: this.webm.lastTimecodeMs };
      // The first file's track numbers: a continuation after a reload maps its own onto them.
      if (this.webm.tracks && !this.webm.continuation) extra.tracks = this.webm.tracks;
    }
    if (!bytes.length) return;
    await store.appendChunk(this.key, new Blob([bytes]), extra);
    this.onChunk();
  }

  /** Stop for good: the last chunk is stored, the length is known, the uploader may declare it. */
  stop() {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      const media = this.media;
      if (media && media.state !== "inactive") {
        const stopped = new Promise((resolve) => media.addEventListener("stop", resolve, { once: true }));
        media.stop();
        await stopped;
      }
      await this.queue;
      if (this.webm) {
        const rest = this.webm.flush();
        if (rest.length) await store.appendChunk(this.key, new Blob([rest]), { lastTimecodeMs: this.webm.lastTimecodeMs });
      }
      const record = await store.updateRecording(this.key, (r) => {
        r.stopped = true;
        r.totalLength = r.bytesWritten;
      });
      this.media = null;
      this.onChunk();
      return record;
    })();
    return this.stopping;
  }

  /**
   * Stop this recorder without ending the recording (another phone took the role over): what was recorded is
   * stored, the recording stays open, and a later start() on this phone continues the same file, as after a reload.
   */
  async pause() {
    const media = this.media;
    if (!media) return;
    if (media.state !== "inactive") {
      const stopped = new Promise((resolve) => media.addEventListener("stop", resolve, { once: true }));
      media.stop();
      await stopped;
    }
    await this.queue;
    // Whole elements are stored already; an unfinished tail (normally none after a stop) would tear the file in
    // the middle once this phone continues it, so it is dropped, as a reload drops it.
    this.webm?.flush();
    this.media = null;
  }
}

/** A recording found unfinished after a reload whose window is over: close it with what was stored. */
export async function closeLeftover(key) {
  return store.updateRecording(key, (r) => {
    if (!r.stopped) {
      r.stopped = true;
      r.totalLength = r.bytesWritten;
    }
  });
}

// Event details are bounded on the server (strings of at most 1 KB): a browser's error text is cut well short of it.
function errorText(error) {
  return String(error).slice(0, 300);
}
