// Our own small tus 1.0.0 client for a recording that is still being written:
//
// - created at recording start with `Upload-Defer-Length: 1` (the length is unknown until the stop);
// - chunks are PATCHed in order from IndexedDB, each PATCH with `Upload-Checksum: sha256 <base64>` (crypto.subtle);
//   while recording, at most one PATCH every PATCH_EVERY_MS, carrying every chunk stored since (after the stop, at
//   once): the hall's server takes a fifth of the requests, and the chunks wait on the phone either way;
// - chunks stay in IndexedDB until the server VERIFIED the recording (not merely acknowledged its bytes): then they
//   are all deleted at once;
// - `Upload-Length` goes with the first PATCH after the stop (an empty PATCH when nothing is left to send);
// - on a network failure, 5xx, 409 (offset mismatch) or 460 (checksum mismatch): back off, ask the server where it
//   is (HEAD) and resume from there; going back online retries at once;
// - a reloaded page finds the recording in IndexedDB and finishes it (Capture.init starts the loop again);
// - 401: this phone's token was refused (another phone took its role over, or it expired): the loop ends at the
//   first one and tells `onUnauthorized` — a refused token is never tried again. The chunks stay; the same phone
//   logged in again (a new token of the same role) continues the same upload, whose owner is the sitting and role.
// The server's word that the recording is complete and playable is asked for by `verify`. `failed` (its bytes do
// not parse as media): the upload is forgotten, a new one is created (the server answers a NEW upload at offset 0
// for a failed recording) and every chunk is sent again — at most MAX_UPLOADS uploads in all, then the phone keeps
// the recording and says so.

import * as store from "./store.js";

export const TUS_ENDPOINT = "/api/v1/uploads/";
const TUS = { "Tus-Resumable": "1.0.0" };
const BACKOFF_MS = [500, 1000, 2000, 3000, 5000];

/**
 * How long to wait before the `attempt`-th retry (1-based): "full jitter", a uniform draw up to the back-off step.
 * After a hall-wide Wi-Fi drop every phone fails at the same instant; without the draw they would all retry in
 * lockstep, each wave as big as the first.
 */
export function retryDelay(attempt, random = Math.random) {
  return Math.round(random() * BACKOFF_MS[Math.min(attempt - 1, BACKOFF_MS.length - 1)]);
}

/**
 * How long to wait before asking again whether the server verified the recording (`asked` times so far): the server
 * probes finished uploads in a queue, so right after the answer's end the whole hall waits on it together; asking
 * more and more slowly (1 s to 5 s, spread) keeps their questions from becoming the queue's load.
 */
export function verifyDelay(asked, random = Math.random) {
  const step = Math.min(5000, 1000 * 1.5 ** Math.max(0, asked - 1));
  return Math.round(step * (0.5 + random() / 2));
}
/**
 * While recording, the least time between two PATCHes (the first goes at once). MediaRecorder stores a chunk every
 * 2 s; sent one by one, 2,000 phones make 1,000 PATCHes a second, and a PATCH costs the server about the same CPU
 * whatever its size (docs/exam-day.md). After the stop nothing waits.
 */
export const PATCH_EVERY_MS = 10000;
/** One PATCH's body at most (several chunks): a slow mobile network still finishes it within the server's timeouts. */
const PATCH_MAX_BYTES = 8 * 1024 * 1024;
/** Uploads of one recording at most (the first and two more after failed verifications). */
export const MAX_UPLOADS = 3;

function base64(buffer) {
  let binary = "";
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

async function sha256(blob) {
  return base64(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
}

function metadata(fields) {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k} ${btoa(unescape(encodeURIComponent(String(v))))}`)
    .join(",");
}

class TusError extends Error {
  constructor(status, message, retry = true, { code = null, details = null } = {}) {
    super(message);
    this.status = status;
    this.retry = retry;
    this.code = code; // the server's error code where its answer had a body (HEAD answers have none)
    this.details = details;
  }
}

export class Uploader {
  /**
   * @param {object} o
   * @param {string} o.key
   * @param {() => string} o.token        the device token
   * @param {(p: object) => void} o.onProgress   {state, acked, written, total, error}
   * @param {() => Promise<object|null>} o.verify  the server's view of the recording once all bytes are in:
   *        {verified: bool, failed: bool, reason?, duration?} (null: not known yet)
   * @param {(error: {status, code, details}) => void} o.onUnauthorized  the server refused the token (401)
   */
  constructor({ key, token, onProgress = () => {}, verify = async () => null, onUnauthorized = () => {}, endpoint = TUS_ENDPOINT }) {
    this.key = key;
    this.onUnauthorized = onUnauthorized;
    this.halted = false;
    this.done = Promise.resolve();
    this.token = token;
    this.onProgress = onProgress;
    this.verify = verify;
    this.endpoint = endpoint;
    this.state = "idle";
    this.serverOffset = null;
    this.attempt = 0;
    this.verifyAsked = 0; // questions "verified yet?" since the last byte went in
    this.lastPatchAt = -Infinity; // performance.now() of the last PATCH with bytes
    this.wake = null;
    this.running = false;
    this.stopped = false;
    this.lastError = null;
    this.result = null;
    this.onOnline = () => this.kick(true);
  }

  start() {
    if (this.halted) return undefined; // this phone's token is dead: only a new log-in (a new uploader) sends again
    if (this.running) return this.kick();
    this.running = true;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    this.done = this.loop().finally(() => {
      this.running = false;
      window.removeEventListener("online", this.onOnline);
    });
    return undefined;
  }

  stop() {
    this.stopped = true;
    this.kick();
  }

  /** For good (the token was refused): no request after the one in flight; resolves when the loop is out. */
  halt() {
    this.halted = true;
    this.stop();
    return this.done;
  }

  /** New bytes are stored, or the network is back: stop waiting. */
  kick(resetBackoff = false) {
    if (resetBackoff) this.attempt = 0;
    this.dirty = true;
    if (this.wake) this.wake();
  }

  sleep(ms) {
    if (this.dirty) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => (this.wake = null));
  }

  async report(state, extra = {}) {
    this.state = state;
    const record = await store.getRecording(this.key);
    const rejected = record?.rejected ?? [];
    this.onProgress({
      state,
      acked: record?.ackedOffset ?? 0,
      written: record?.bytesWritten ?? 0,
      total: record?.totalLength ?? null,
      stopped: Boolean(record?.stopped),
      error: this.lastError,
      result: this.result,
      // Uploads the server could not verify (each was sent again), and the last one's reason.
      rejected: rejected.length,
      rejectedReason: rejected.length ? rejected[rejected.length - 1].reason : null,
      ...extra,
    });
  }

  headers(extra = {}) {
    return { ...TUS, Authorization: `Bearer ${this.token()}`, ...extra };
  }

  async request(method, url, { headers = {}, body } = {}) {
    let response;
    try {
      response = await fetch(url, { method, headers: this.headers(headers), body, cache: "no-store" });
    } catch (error) {
      throw new TusError(0, `network: ${error.message}`);
    }
    return response;
  }

  async loop() {
    await this.report("starting");
    while (!this.stopped) {
      try {
        const finished = await this.step();
        this.attempt = 0;
        if (finished) return;
      } catch (error) {
        this.lastError = error.message;
        this.serverOffset = null; // ask the server again before the next PATCH
        this.lastPatchAt = -Infinity; // a retry follows the back-off (at once when back online), not the PATCH period
        if (error.status === 401) {
          // Retrying a refused token only repeats the refusal (and, for a replaced phone, frightens the candidate
          // with "network lost"): stop at the first one and say so.
          this.halted = true;
          await this.report("halted");
          this.onUnauthorized({ status: 401, code: error.code, details: error.details });
          return;
        }
        if (error.retry === false) {
          await this.report("failed");
          return;
        }
        await this.report(error.status === 0 || !navigator.onLine ? "offline" : "retrying");
        this.attempt += 1;
        await this.sleep(retryDelay(this.attempt));
      }
    }
  }

  /** One unit of work; returns true when the recording is verified (nothing left to do). */
  async step() {
    this.dirty = false;
    const record = await store.getRecording(this.key);
    if (!record) return true;
    if (record.verified) {
      this.result = record.result ?? null;
      await this.report("verified");
      return true;
    }
    if (!record.uploadUrl && (record.rejected?.length ?? 0) >= MAX_UPLOADS) {
      // Sent MAX_UPLOADS times and never readable: stop sending; the chunks stay on the phone for support.
      this.lastError = record.rejected[record.rejected.length - 1].reason;
      await this.report("failed", { gaveUp: true });
      return true;
    }
    if (!record.uploadUrl) return this.create(record);
    if (this.serverOffset === null) await this.head(record);
    const chunk = await store.chunkAt(this.key, this.serverOffset);
    if (chunk) {
      const wait = record.stopped ? 0 : this.lastPatchAt + PATCH_EVERY_MS - performance.now();
      if (wait <= 0) return this.send(record, chunk);
      await this.report("uploading");
      await this.sleep(wait); // a new chunk ends it early: the step finds the rest of the wait again
      return false;
    }
    if (record.stopped && !record.lengthDeclared) return this.declareLength(record);
    if (record.stopped) return this.awaitVerification(record);
    // Recording: wait for the next chunk.
    await this.report("uploading");
    await this.sleep(5000);
    return false;
  }

  async create(record) {
    await this.report("creating");
    const response = await this.request("POST", this.endpoint, {
      headers: {
        "Upload-Defer-Length": "1",
        "Upload-Metadata": metadata({ filename: `${record.role}-${record.sittingId}.${record.container}`, filetype: record.mime || "video/webm", role: record.role, sitting_id: record.sittingId }),
      },
    });
    if (response.status !== 201) throw await this.failure(response, "create");
    const location = response.headers.get("Location");
    if (!location) throw new TusError(response.status, "create: no Location");
    const url = new URL(location, window.location.href).pathname;
    // The server answers a second creation for this sitting and role with the existing upload. This phone creates
    // only when it holds no upload (never sent a byte to one, or the server failed the one it sent): an answer that
    // already holds bytes is another phone's (the candidate switched phones): never append to it or treat it as
    // ours; keep our chunks and say so. After a failed verification the server answers a NEW upload at offset 0,
    // so sending a recording again never trips this; the failed upload itself is never adopted again.
    const existing = Number(response.headers.get("Upload-Offset") || 0);
    const rejected = (record.rejected ?? []).some((r) => r.uploadUrl === url);
    if (existing > 0 || rejected) {
      throw new TusError(409, rejected ? "the server answered the upload it failed" : "this sitting's recording was started on another phone", false);
    }
    await store.updateRecording(this.key, (r) => {
      r.uploadUrl = url;
      r.ackedOffset = 0;
    });
    // A second creation for the same sitting and role answers the existing upload: learn its offset.
    this.serverOffset = null;
    return false;
  }

  async head(record) {
    const response = await this.request("HEAD", record.uploadUrl);
    if (response.status === 401) throw new TusError(401, "HEAD 401", false); // no body: the caller asks why
    if (response.status === 404 || response.status === 410) throw new TusError(response.status, "upload gone", false);
    if (!response.ok) throw new TusError(response.status, `HEAD ${response.status}`);
    const offset = Number(response.headers.get("Upload-Offset"));
    if (!Number.isFinite(offset)) throw new TusError(response.status, "HEAD without Upload-Offset");
    this.serverOffset = offset;
    const declared = response.headers.has("Upload-Length");
    if (declared !== Boolean(record.lengthDeclared)) await store.updateRecording(this.key, (r) => void (r.lengthDeclared = declared));
    await store.acknowledge(this.key, offset);
  }

  async send(record, chunk) {
    const offset = this.serverOffset;
    if (chunk.offset > offset) {
      // The server is missing bytes the phone no longer holds (an older version of the app deleted acknowledged
      // chunks): cannot happen unless the server lost acknowledged data.
      throw new TusError(409, `server offset ${offset} is before stored chunk at ${chunk.offset}`, false);
    }
    const { body, end } = await this.bodyFrom(chunk, offset);
    await this.report(navigator.onLine ? "uploading" : "offline");
    const headers = {
      "Content-Type": "application/offset+octet-stream",
      "Upload-Offset": String(offset),
      "Upload-Checksum": `sha256 ${await sha256(body)}`,
    };
    const isLast = record.stopped && end === record.totalLength;
    if (isLast && !record.lengthDeclared) headers["Upload-Length"] = String(record.totalLength);
    this.lastPatchAt = performance.now();
    const response = await this.request("PATCH", record.uploadUrl, { headers, body });
    if (response.status !== 204) throw await this.failure(response, "PATCH");
    const next = Number(response.headers.get("Upload-Offset"));
    this.serverOffset = Number.isFinite(next) ? next : offset + body.size;
    if (headers["Upload-Length"]) await store.updateRecording(this.key, (r) => void (r.lengthDeclared = true));
    await store.acknowledge(this.key, this.serverOffset);
    await this.report("uploading");
    return false;
  }

  /** The bytes from `offset` on: the rest of `chunk` and the stored chunks that follow it, up to PATCH_MAX_BYTES. */
  async bodyFrom(chunk, offset) {
    const parts = [chunk.blob.slice(offset - chunk.offset)];
    let size = parts[0].size;
    let end = chunk.offset + chunk.size;
    while (size < PATCH_MAX_BYTES) {
      const next = await store.chunkAt(this.key, end);
      if (!next || next.offset !== end) break;
      parts.push(next.blob);
      size += next.size;
      end += next.size;
    }
    return { body: new Blob(parts), end };
  }

  async declareLength(record) {
    await this.report("finishing");
    const response = await this.request("PATCH", record.uploadUrl, {
      headers: { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(this.serverOffset), "Upload-Length": String(record.totalLength) },
      body: new Blob([]),
    });
    if (response.status !== 204) throw await this.failure(response, "PATCH length");
    await store.updateRecording(this.key, (r) => void (r.lengthDeclared = true));
    return false;
  }

  async awaitVerification(record) {
    await this.report("verifying");
    let view = null;
    try {
      view = await this.verify();
    } catch (error) {
      if (error.status === 401) throw new TusError(401, "verify 401", false, { code: error.code, details: error.details });
      view = null; // offline or not answerable yet: ask again
    }
    if (view?.verified) {
      this.result = view;
      await store.markVerified(this.key, view); // only now may the chunks go
      await this.report("verified");
      return true;
    }
    if (view?.failed) {
      // Every byte of this upload is in and the server cannot read it: send the recording again (a new upload).
      this.lastError = null;
      this.serverOffset = null;
      await store.rejectUpload(this.key, record.uploadUrl, view.reason || "failed");
      await this.report("resending");
      return false;
    }
    this.verifyAsked += 1;
    await this.sleep(verifyDelay(this.verifyAsked));
    return false;
  }

  async failure(response, what) {
    let text = "";
    try {
      text = await response.text();
    } catch {
      // ignore
    }
    let error = null;
    try {
      error = JSON.parse(text)?.error ?? null;
    } catch {
      // not our JSON error shape
    }
    // 401: the token was refused (the loop stops); 404/410: the upload expired (deadline passed) or never existed;
    // 403: not allowed now. 409/460/423/5xx: retry.
    const permanent = [401, 404, 410, 413].includes(response.status);
    return new TusError(response.status, `${what} ${response.status} ${text.slice(0, 200)}`.trim(), !permanent, { code: error?.code ?? null, details: error?.details ?? null });
  }
}
