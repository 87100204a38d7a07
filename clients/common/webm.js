// A streaming WebM (EBML) pass over MediaRecorder's output, for two reasons:
//
// 1. MediaRecorder cuts its timeslice chunks anywhere, even inside a frame. This pass hands on only whole elements
//    and holds the unfinished tail until the next chunk completes it, so what is stored (IndexedDB) and sent
//    (tus) always ends on an element boundary.
// 2. After a reload or a crash mid-recording, a new MediaRecorder starts a new file (EBML header, timestamps from
//    0). Appended as is, that would be a second file glued to the first. A continuation drops the new file's
//    header (EBML, Segment, Info, Tracks) and shifts every Cluster timecode by the time elapsed since the first
//    recorder started: the upload stays one WebM file whose timeline covers the whole window, with a gap where
//    the phone was away.
//
// Chromium and Firefox write a live WebM: Segment and Clusters of unknown size, Cluster = Timecode + SimpleBlocks.
// Known-size Clusters are handled too (the size is rewritten when the timecode grows).

const ID = {
  EBML: 0x1a45dfa3,
  Segment: 0x18538067,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
};
const TRACK_TYPES = { 1: "video", 2: "audio" };

/** Read an element ID (marker kept) at `pos`: {value, length} or null when the bytes are not all there. */
function readId(bytes, pos) {
  if (pos >= bytes.length) return null;
  const first = bytes[pos];
  let length = 1;
  let mask = 0x80;
  while (length <= 4 && !(first & mask)) {
    mask >>= 1;
    length += 1;
  }
  if (length > 4) throw new Error(`webm: bad element id at ${pos}`);
  if (pos + length > bytes.length) return null;
  let value = 0;
  for (let i = 0; i < length; i += 1) value = value * 256 + bytes[pos + i];
  return { value, length };
}

/** The children of a master element's payload [start, end): [{id, start, end}] (payload bounds). */
function children(bytes, start, end) {
  const out = [];
  let pos = start;
  while (pos < end) {
    const id = readId(bytes, pos);
    const size = id && readSize(bytes, pos + id.length);
    if (!id || !size) break;
    const body = pos + id.length + size.length;
    out.push({ id: id.value, start: body, end: body + size.value });
    pos = body + size.value;
  }
  return out;
}

/** Tracks payload → {"video": number, "audio": number}. */
function trackTypes(bytes, start, end) {
  const types = {};
  for (const entry of children(bytes, start, end)) {
    if (entry.id !== ID.TrackEntry) continue;
    let number = null;
    let type = null;
    for (const field of children(bytes, entry.start, entry.end)) {
      if (field.id === ID.TrackNumber) number = readUint(bytes, field.start, field.end - field.start);
      if (field.id === ID.TrackType) type = TRACK_TYPES[readUint(bytes, field.start, field.end - field.start)];
    }
    if (number !== null && type) types[type] = number;
  }
  return types;
}

/** Read an element size (marker removed): {value, length, unknown} or null. */
function readSize(bytes, pos) {
  if (pos >= bytes.length) return null;
  const first = bytes[pos];
  let length = 1;
  let mask = 0x80;
  while (length <= 8 && !(first & mask)) {
    mask >>= 1;
    length += 1;
  }
  if (length > 8) throw new Error(`webm: bad element size at ${pos}`);
  if (pos + length > bytes.length) return null;
  let value = first & (mask - 1);
  let allOnes = value === mask - 1;
  for (let i = 1; i < length; i += 1) {
    value = value * 256 + bytes[pos + i];
    if (bytes[pos + i] !== 0xff) allOnes = false;
  }
  return { value, length, unknown: allOnes };
}

function uintBytes(value) {
  const out = [];
  let v = Math.max(0, Math.floor(value));
  do {
    out.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  return out;
}

function timecodeElement(value) {
  const payload = uintBytes(value);
  return Uint8Array.from([ID.Timecode, 0x80 | payload.length, ...payload]);
}

function size8(value) {
  const out = new Uint8Array(8);
  out[0] = 0x01;
  let v = value;
  for (let i = 7; i >= 1; i -= 1) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

function readUint(bytes, start, length) {
  let value = 0;
  for (let i = 0; i < length; i += 1) value = value * 256 + bytes[start + i];
  return value;
}

function concat(parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export class WebmStream {
  /**
   * @param {object} o
   * @param {boolean} o.continuation  drop the header and shift timecodes by `offsetMs`
   * @param {number} o.offsetMs
   * @param {object} o.tracks  the first file's track numbers by type ({video: 2, audio: 1}): a new recorder may
   *        number its tracks the other way round (Chromium numbers them in the order their first data arrives)
   */
  constructor({ continuation = false, offsetMs = 0, tracks = null } = {}) {
    this.continuation = continuation;
    this.offsetMs = Math.round(offsetMs);
    this.tracks = tracks; // this file's (or, for a continuation, the first file's) numbers by type
    this.renumber = null; // continuation: its own track number → the first file's
    this.pending = new Uint8Array(0);
    this.seenCluster = false;
    this.clusterTimecode = 0;
    this.lastTimecodeMs = continuation ? this.offsetMs : 0;
    this.bytesIn = 0;
  }

  /** Feed MediaRecorder bytes; returns the whole elements ready to store (maybe empty). */
  push(chunk) {
    this.bytesIn += chunk.length;
    this.pending = this.pending.length ? concat([this.pending, chunk]) : chunk;
    const out = [];
    let pos = 0;
    for (;;) {
      const step = this.next(this.pending, pos);
      if (!step) break;
      if (step.emit) out.push(step.emit);
      pos = step.end;
    }
    this.pending = this.pending.slice(pos);
    return concat(out);
  }

  /** At stop: whatever is left (normally nothing; a torn tail at worst, harmless at the end of a file). */
  flush() {
    const rest = this.pending;
    this.pending = new Uint8Array(0);
    return this.continuation && !this.seenCluster ? new Uint8Array(0) : rest;
  }

  /** One element (or a master's header) starting at `pos`: {emit, end} or null when incomplete. */
  next(bytes, pos) {
    const id = readId(bytes, pos);
    if (!id) return null;
    const size = readSize(bytes, pos + id.length);
    if (!size) return null;
    const headerEnd = pos + id.length + size.length;

    if (id.value === ID.Segment) {
      // Descend: its children follow. A continuation already has its Segment open on the server.
      return { emit: this.continuation ? null : bytes.slice(pos, headerEnd), end: headerEnd };
    }
    if (id.value === ID.Cluster) return this.cluster(bytes, pos, id, size, headerEnd);

    if (size.unknown) {
      // Some other unknown-size master: descend like the Segment.
      return { emit: this.keep() ? bytes.slice(pos, headerEnd) : null, end: headerEnd };
    }
    const end = headerEnd + size.value;
    if (end > bytes.length) return null;
    if (id.value === ID.Tracks) this.noteTracks(bytes, headerEnd, end);
    if (id.value === ID.SimpleBlock) {
      this.noteBlock(bytes, headerEnd);
      if (this.renumber) return { emit: this.renumbered(bytes, pos, headerEnd, end), end };
    }
    if (id.value === ID.BlockGroup) {
      this.noteGroup(bytes, headerEnd, end);
      if (this.renumber) return { emit: this.renumberedGroup(bytes, pos, headerEnd, end), end };
    }
    if (id.value === ID.Timecode) {
      // A Timecode outside the Cluster handling (not expected): shift it all the same.
      const value = readUint(bytes, headerEnd, size.value);
      this.clusterTimecode = value + (this.continuation ? this.offsetMs : 0);
      return { emit: this.keep() ? timecodeElement(this.clusterTimecode) : null, end };
    }
    return { emit: this.keep() ? bytes.slice(pos, end) : null, end };
  }

  /** Before the first Cluster, a continuation drops everything (EBML header, Info, Tracks, ...). */
  keep() {
    return !this.continuation || this.seenCluster;
  }

  cluster(bytes, pos, id, size, headerEnd) {
    // Wait for the Timecode child so the header never ends a stored chunk without it.
    const childId = readId(bytes, headerEnd);
    if (!childId) return null;
    const childSize = readSize(bytes, headerEnd + childId.length);
    if (!childSize) return null;
    const childEnd = headerEnd + childId.length + childSize.length + childSize.value;
    if (childEnd > bytes.length) return null;
    this.seenCluster = true;
    if (childId.value !== ID.Timecode) {
      // Unusual layout: pass the header on and let the children come one by one.
      return { emit: bytes.slice(pos, headerEnd), end: headerEnd };
    }
    const original = readUint(bytes, headerEnd + childId.length + childSize.length, childSize.value);
    const shifted = original + (this.continuation ? this.offsetMs : 0);
    this.clusterTimecode = shifted;
    this.lastTimecodeMs = Math.max(this.lastTimecodeMs, shifted);
    if (!this.continuation || this.offsetMs === 0) return { emit: bytes.slice(pos, childEnd), end: childEnd };
    const newChild = timecodeElement(shifted);
    const oldChildLength = childEnd - headerEnd;
    let header;
    if (size.unknown) header = bytes.slice(pos, headerEnd);
    else header = concat([bytes.slice(pos, pos + id.length), size8(size.value - oldChildLength + newChild.length)]);
    return { emit: concat([header, newChild]), end: childEnd };
  }

  noteTracks(bytes, start, end) {
    const mine = trackTypes(bytes, start, end);
    if (!this.continuation || !this.tracks) {
      this.tracks = mine;
      return;
    }
    const renumber = {};
    for (const [type, number] of Object.entries(mine)) {
      if (this.tracks[type] !== undefined && this.tracks[type] !== number) renumber[number] = this.tracks[type];
    }
    this.renumber = Object.keys(renumber).length ? renumber : null;
  }

  /** A copy of a (Simple)Block with its track number (a 1-byte vint in practice) mapped to the first file's. */
  renumbered(bytes, pos, blockStart, end) {
    const copy = bytes.slice(pos, end);
    const at = blockStart - pos;
    const track = readSize(copy, at);
    if (track && track.length === 1 && this.renumber[track.value] !== undefined) copy[at] = 0x80 | this.renumber[track.value];
    return copy;
  }

  renumberedGroup(bytes, pos, start, end) {
    const copy = bytes.slice(pos, end);
    for (const child of children(bytes, start, end)) {
      if (child.id !== ID.Block) continue;
      const at = child.start - pos;
      const track = readSize(copy, at);
      if (track && track.length === 1 && this.renumber[track.value] !== undefined) copy[at] = 0x80 | this.renumber[track.value];
    }
    return copy;
  }

  noteBlock(bytes, start) {
    const track = readSize(bytes, start);
    if (!track) return;
    const at = start + track.length;
    let relative = bytes[at] * 256 + bytes[at + 1];
    if (relative >= 0x8000) relative -= 0x10000;
    this.lastTimecodeMs = Math.max(this.lastTimecodeMs, this.clusterTimecode + relative);
  }

  noteGroup(bytes, start, end) {
    let pos = start;
    while (pos < end) {
      const id = readId(bytes, pos);
      const size = id && readSize(bytes, pos + id.length);
      if (!id || !size) return;
      const body = pos + id.length + size.length;
      if (id.value === ID.Block) this.noteBlock(bytes, body);
      pos = body + size.value;
    }
  }
}
