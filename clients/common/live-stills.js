// Live stills (main phone, while answering): every `live_still_seconds` (the server's period, sent with the sitting
// and the answer start) a JPEG of the camera goes to the in-exam check, which tells the phone only whether a face
// was seen; the proctors see the rest. No face: a gentle hint for a few seconds. A still that fails (offline,
// refused, slow) is dropped without a word: the recording and the screen never wait for one or depend on one.

import { captureJpeg } from "./media.js";

const CHECK = "/api/v1/device/face/check";
const HINT_MS = 6000;
// A still older than this says little about now, and the next one is on its way.
const MAX_WAIT_MS = 10000;

export class LiveStills {
  /**
   * @param {object} o
   * @param {() => object} o.api   the phone's API client (asked each time: a re-login brings a new one)
   * @param {() => HTMLVideoElement|null} o.video   the playing camera preview
   * @param {() => void} o.onChange   the hint appeared or went
   */
  constructor({ api, video, onChange = () => {} }) {
    this.api = api;
    this.video = video;
    this.onChange = onChange;
    this.period = null;
    this.timer = null;
    this.inFlight = null;
    this.hintTimer = null;
    this.hint = false;
  }

  /** Send a still every `seconds` from now on (idempotent; a new period restarts the schedule). */
  run(seconds) {
    if (!(seconds > 0)) return this.stop();
    if (this.timer && this.period === seconds) return;
    clearInterval(this.timer);
    this.period = seconds;
    this.timer = setInterval(() => this.send(), seconds * 1000);
  }

  /** Answering is over (or this phone was replaced): no more stills, the one on its way is dropped, no hint. */
  stop() {
    if (this.timer === null && !this.inFlight && !this.hint) return;
    clearInterval(this.timer);
    this.timer = null;
    this.period = null;
    this.inFlight?.abort();
    this.inFlight = null;
    this.setHint(false);
  }

  async send() {
    const video = this.video();
    if (this.inFlight || !video?.videoWidth) return; // one at a time; no picture yet: the next still
    const controller = new AbortController();
    this.inFlight = controller;
    const timer = setTimeout(() => controller.abort(), Math.min(MAX_WAIT_MS, this.period * 1000));
    try {
      const form = new FormData();
      form.append("image", await captureJpeg(video, 0.8), "still.jpg");
      const answer = await this.api().postForm(CHECK, form, { signal: controller.signal });
      if (this.inFlight === controller) this.setHint(answer?.face_seen === false);
    } catch {
      // Dropped: a lost still costs one sample of the live flags, never the candidate's attention.
    } finally {
      clearTimeout(timer);
      if (this.inFlight === controller) this.inFlight = null;
    }
  }

  setHint(shown) {
    clearTimeout(this.hintTimer);
    this.hintTimer = shown ? setTimeout(() => this.setHint(false), HINT_MS) : null;
    if (this.hint === shown) return;
    this.hint = shown;
    this.onChange();
  }
}
