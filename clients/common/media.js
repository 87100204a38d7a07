// Camera and microphone: one stream per page, frame capture for the face checks, live picture-quality hints,
// a microphone level meter, and the screen wake lock held while recording.

let streamPromise = null;

const CONSTRAINTS = {
  // No size asked for: a phone gives its default (640×480 or its portrait turn); 15 fps keeps uploads small.
  video: { facingMode: "user", width: { max: 1280 }, height: { max: 1280 }, frameRate: { ideal: 15, max: 30 } },
  audio: { echoCancellation: true, noiseSuppression: true },
};

/** The page's camera + microphone stream (asked for once; a stopped stream is asked for again). */
export function getStream(constraints = CONSTRAINTS) {
  if (streamPromise) {
    return streamPromise.then((stream) => {
      if (stream.getTracks().every((track) => track.readyState === "live")) return stream;
      streamPromise = null;
      return getStream(constraints);
    });
  }
  if (!navigator.mediaDevices?.getUserMedia) return Promise.reject(new Error("mediaDevices unavailable (needs https)"));
  streamPromise = navigator.mediaDevices.getUserMedia(constraints).catch((error) => {
    streamPromise = null;
    throw error;
  });
  return streamPromise;
}

/** Turn the camera and microphone off (a replaced phone): the next getStream() asks for them again. */
export async function releaseStream() {
  const pending = streamPromise;
  streamPromise = null;
  if (!pending) return;
  try {
    for (const track of (await pending).getTracks()) track.stop();
  } catch {
    // never granted: nothing to release
  }
}

/** A muted, inline <video> showing the stream. */
export function preview(stream, className = "preview") {
  const video = document.createElement("video");
  video.className = className;
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  video.srcObject = stream;
  video.play().catch(() => {});
  return video;
}

function frameCanvas(video, maxSide = 640) {
  const w = video.videoWidth || 640;
  const hgt = video.videoHeight || 480;
  const scale = Math.min(1, maxSide / Math.max(w, hgt));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(w * scale);
  canvas.height = Math.round(hgt * scale);
  canvas.getContext("2d", { willReadFrequently: true }).drawImage(video, 0, 0, canvas.width, canvas.height);
  return canvas;
}

/** The current frame of a playing <video> as a JPEG blob. */
export async function captureJpeg(video, quality = 0.9) {
  if (!video.videoWidth) await new Promise((resolve) => video.addEventListener("loadeddata", resolve, { once: true }));
  const canvas = frameCanvas(video, 960);
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("capture failed"))), "image/jpeg", quality));
}

/**
 * Live hints while the candidate lines up for the face check: exposure, backlight and sharpness of a small frame.
 * Face presence and size need a detector, which the server runs on the capture; these are the hints a phone can
 * give many times a second without one. Returns {code, luma, centre, surround, sharpness}.
 */
export function assessFrame(video) {
  if (!video.videoWidth) return { code: "no_camera" };
  const canvas = frameCanvas(video, 96);
  const { width, height } = canvas;
  const data = canvas.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, width, height).data;
  const luma = new Float32Array(width * height);
  for (let i = 0; i < luma.length; i += 1) luma[i] = 0.299 * data[i * 4] + 0.587 * data[i * 4 + 1] + 0.114 * data[i * 4 + 2];
  let centre = 0;
  let centreN = 0;
  let surround = 0;
  let surroundN = 0;
  let lap = 0;
  let lapSq = 0;
  let lapN = 0;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const v = luma[y * width + x];
      const inCentre = x > width * 0.3 && x < width * 0.7 && y > height * 0.2 && y < height * 0.7;
      if (inCentre) {
        centre += v;
        centreN += 1;
      } else {
        surround += v;
        surroundN += 1;
      }
      if (inCentre && x > 0 && y > 0 && x < width - 1 && y < height - 1) {
        const l = 4 * v - luma[y * width + x - 1] - luma[y * width + x + 1] - luma[(y - 1) * width + x] - luma[(y + 1) * width + x];
        lap += l;
        lapSq += l * l;
        lapN += 1;
      }
    }
  }
  centre /= centreN || 1;
  surround /= surroundN || 1;
  const sharpness = lapN ? lapSq / lapN - (lap / lapN) ** 2 : 0;
  let code = "ok";
  if (centre < 50) code = "dark";
  else if (surround > 150 && centre < 0.55 * surround) code = "backlit";
  else if (centre > 235) code = "bright";
  else if (sharpness < 4) code = "blurred";
  return { code, luma: Math.round(centre), surround: Math.round(surround), sharpness: Math.round(sharpness * 10) / 10 };
}

// Level meter: loudness from -60 dBFS (empty) to 0 dBFS (full), as meters show it. Sound comes in bursts (syllables;
// Chromium's fake microphone beeps for a moment every half second): a short snapshot read now and then mostly lands
// in a pause and the bar stayed empty. So each read covers the whole time since the last one (2048 samples are 43 ms
// at 48 kHz, reads are 40 ms apart), and the bar falls back by METER_FALL a read, so a burst stays in sight.
const METER_FLOOR_DB = -60;
const METER_READ_MS = 40;
const METER_FALL = 0.04;

/**
 * Microphone level 0..1, passed to `onLevel(level, running)` every 40 ms; `running` is false while the browser keeps
 * the audio suspended until a tap (iOS Safari without a user gesture). Returns a stop function.
 */
export function micLevel(stream, onLevel) {
  const AudioCtx = window.AudioContext || window.webkitAudioContext;
  if (!AudioCtx || !stream.getAudioTracks().length) return () => {};
  const ctx = new AudioCtx();
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  source.connect(analyser);
  // Safari only processes nodes that lead to the output: a silent gain takes the analyser there without a sound.
  const silent = ctx.createGain();
  silent.gain.value = 0;
  analyser.connect(silent);
  silent.connect(ctx.destination);
  const buffer = new Float32Array(analyser.fftSize);
  let level = 0;
  const started = performance.now();
  const id = setInterval(() => {
    analyser.getFloatTimeDomainData(buffer);
    let sum = 0;
    for (const v of buffer) sum += v * v;
    const db = 20 * Math.log10(Math.sqrt(sum / buffer.length) || 1e-9);
    const now = Math.min(1, Math.max(0, (db - METER_FLOOR_DB) / -METER_FLOOR_DB));
    level = Math.max(now, level - METER_FALL);
    // A context starts suspended for a moment anyway: only one still suspended after a second waits for a tap.
    onLevel(level, ctx.state !== "suspended" || performance.now() - started < 1000);
  }, METER_READ_MS);
  // An AudioContext made without a user gesture may start suspended: the first tap anywhere resumes it.
  const resume = () => {
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
  };
  resume();
  const gestures = ["pointerdown", "keydown", "touchend"];
  for (const type of gestures) document.addEventListener(type, resume, { passive: true });
  return () => {
    clearInterval(id);
    for (const type of gestures) document.removeEventListener(type, resume);
    source.disconnect();
    ctx.close().catch(() => {});
  };
}

/** Keep the screen on while recording (re-acquired when the page becomes visible again). */
export class WakeLock {
  constructor() {
    this.sentinel = null;
    this.wanted = false;
    this.onVisible = () => {
      if (this.wanted && document.visibilityState === "visible") this.acquire();
    };
  }

  async acquire() {
    this.wanted = true;
    document.addEventListener("visibilitychange", this.onVisible);
    if (!navigator.wakeLock || this.sentinel) return Boolean(this.sentinel);
    try {
      this.sentinel = await navigator.wakeLock.request("screen");
      this.sentinel.addEventListener("release", () => (this.sentinel = null));
      return true;
    } catch {
      return false; // refused (battery saver, not visible): recording goes on regardless
    }
  }

  async release() {
    this.wanted = false;
    document.removeEventListener("visibilitychange", this.onVisible);
    const s = this.sentinel;
    this.sentinel = null;
    if (s) await s.release().catch(() => {});
  }
}
