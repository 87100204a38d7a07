// The questions' images on the main phone: fetched with the device token once the question is revealed (an <img>
// cannot send the token), kept as object URLs for the rest of the answer, retried on failure after 1, 2, 4 s, then by
// a tap. The text is on screen meanwhile: an image that is slow or fails never holds the question back.

const RETRY_MS = [1000, 2000, 4000];

export class QuestionImages {
  /**
   * @param {object} o
   * @param {() => object} o.api   the phone's API client (asked each time: a re-login brings a new one)
   * @param {() => void} o.onChange   an image arrived or failed
   */
  constructor({ api, onChange = () => {} }) {
    this.api = api;
    this.onChange = onChange;
    this.images = new Map(); // question id → {url} | {loading: true} | {failed: true}
    this.timers = new Set();
    this.zoomed = null; // the question whose image fills the screen (a tap on the image; a tap anywhere closes)
    this.stopped = false;
  }

  /** Fetch the image of every revealed question that has one and is not here or on its way (idempotent). */
  want(questions) {
    for (const q of questions || []) if (q.has_image && !this.images.has(q.id)) this.load(q.id, 0);
  }

  /** What to show for a question: {url}, {loading}, {failed} (the tap to try again), or null (no image). */
  get(id) {
    return this.images.get(id) ?? null;
  }

  retry(id) {
    if (this.images.get(id)?.failed) this.load(id, 0);
  }

  zoom(id) {
    this.zoomed = id;
    this.onChange();
  }

  /** For the screen's signature: which images are in which state, and the one enlarged. */
  key() {
    return [...this.images].map(([id, s]) => `${id}:${s.url ? "ok" : s.failed ? "failed" : "loading"}`).join(",") + `|${this.zoomed}`;
  }

  async load(id, attempt) {
    this.images.set(id, { loading: true });
    this.onChange();
    try {
      const response = await this.api().request("GET", `/api/v1/device/questions/${encodeURIComponent(id)}/image`, { raw: true, timeout: 30000 });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const blob = await response.blob();
      if (this.stopped) return;
      this.images.set(id, { url: URL.createObjectURL(blob) });
    } catch {
      if (this.stopped) return;
      if (attempt < RETRY_MS.length) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.load(id, attempt + 1);
        }, RETRY_MS[attempt]);
        this.timers.add(timer);
        return;
      }
      this.images.set(id, { failed: true });
    }
    this.onChange();
  }

  /** The sitting screen closed: no more fetches, and the object URLs are released. */
  stop() {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const state of this.images.values()) if (state.url) URL.revokeObjectURL(state.url);
    this.images.clear();
  }
}
