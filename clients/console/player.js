// Two recordings played as one: a single position on the answer window's time (seconds from answer start, server
// time), each video placed on it by its recording's start. The video that covers the position leads; the other
// follows within TOLERANCE (a small drift is absorbed by its playback rate, a larger one by a seek), so both show
// the same instant whatever each phone's start or buffering.

const TOLERANCE = 0.3; // seconds: the most the two pictures may differ
const NUDGE = 0.08; // seconds: below this no correction at all
export const RATES = [0.5, 1, 1.5, 2, 3, 4];

/**
 * videos: [{role, el: <video>, offset}] where offset = the recording's start − answer start (seconds).
 * span: the answer window's length. onTick(position) is called on every frame while playing and after each seek.
 */
export function syncedPlayer(videos, { span, onTick = () => {} }) {
  let position = 0;
  let playing = false;
  let rate = 1;
  let frame = null;
  let lastDrift = 0;

  const local = (v) => position - v.offset; // where this video should be
  const covers = (v, at = position) => at - v.offset >= 0 && at - v.offset < (Number.isFinite(v.el.duration) ? v.el.duration : Infinity);

  function leader() {
    return videos.find((v) => covers(v) && !v.el.paused && v.el.readyState >= 3) || null;
  }

  function place(v) {
    if (!covers(v)) {
      // Before its start (or past its end) a video shows its first (or last) picture, never a stale instant.
      if (!v.el.paused) v.el.pause();
      v.el.dataset.outside = "1";
      const edge = local(v) < 0 ? 0 : v.el.duration;
      if (Number.isFinite(edge) && Math.abs(v.el.currentTime - edge) > 0.02) v.el.currentTime = edge;
      return;
    }
    delete v.el.dataset.outside;
    const target = local(v);
    const drift = v.el.currentTime - target;
    if (Math.abs(drift) > TOLERANCE || !playing) {
      if (Math.abs(drift) > 0.02) v.el.currentTime = target;
      v.el.playbackRate = rate;
    } else if (Math.abs(drift) > NUDGE) {
      v.el.playbackRate = rate * (drift > 0 ? 0.9 : 1.1); // catch up (or wait) gently
    } else {
      v.el.playbackRate = rate;
    }
    if (playing && v.el.paused) v.el.play().catch(() => {});
    if (!playing && !v.el.paused) v.el.pause();
  }

  let clockAt = null; // performance.now() at the last frame, when no video leads (both outside their recordings)

  function tick(now) {
    const lead = leader();
    if (lead) {
      position = lead.el.currentTime + lead.offset;
      clockAt = null;
    } else if (playing) {
      if (clockAt !== null) position += ((now - clockAt) / 1000) * rate;
      clockAt = now;
    }
    if (position >= span) {
      position = span;
      pause();
    }
    for (const v of videos) if (v !== lead) place(v);
    lastDrift = measureDrift();
    onTick(position);
    if (playing) frame = requestAnimationFrame(tick);
  }

  function measureDrift() {
    const inside = videos.filter((v) => covers(v) && v.el.readyState >= 1);
    if (inside.length < 2) return 0;
    const [a, b] = inside.map((v) => v.el.currentTime + v.offset);
    return Math.abs(a - b);
  }

  function play() {
    if (position >= span) position = 0;
    playing = true;
    clockAt = null;
    for (const v of videos) place(v);
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(tick);
  }

  function pause() {
    playing = false;
    cancelAnimationFrame(frame);
    for (const v of videos) v.el.pause();
  }

  function seek(at) {
    position = Math.max(0, Math.min(span, at));
    for (const v of videos) place(v);
    onTick(position);
  }

  function setRate(value) {
    rate = value;
    for (const v of videos) v.el.playbackRate = rate;
  }

  for (const v of videos) {
    v.el.muted = v.role !== "main"; // one sound: the candidate's answer from the main phone
    v.el.preload = "auto";
    v.el.addEventListener("loadedmetadata", () => place(v));
  }

  return {
    play,
    pause,
    seek,
    toggle: () => (playing ? pause() : play()),
    skip: (seconds) => seek(position + seconds),
    setRate,
    faster: () => setRate(RATES[Math.min(RATES.length - 1, RATES.indexOf(rate) + 1)] ?? 1),
    slower: () => setRate(RATES[Math.max(0, RATES.indexOf(rate) - 1)] ?? 1),
    get position() {
      return position;
    },
    get playing() {
      return playing;
    },
    get rate() {
      return rate;
    },
    /** How far apart the two pictures are now, in seconds (0 when fewer than two show). */
    get drift() {
      return lastDrift;
    },
    destroy() {
      pause();
      for (const v of videos) v.el.removeAttribute("src");
    },
  };
}
