// IndexedDB: the phone's durable copy of every recording chunk until the server acknowledged it.
//
// recordings (key "<role>:<sittingId>"): one per sitting and role, the recording's bookkeeping:
//   mime, container, startedServerMs, segments, bytesWritten, lastTimecodeMs, nextSeq, uploadUrl, ackedOffset,
//   stopped, totalLength, lengthDeclared, verified, result
// chunks (key [recording key, seq]): {key, seq, offset, size, blob} — appended in order, deleted once acknowledged.

const DB_NAME = "dualcam";
const DB_VERSION = 1;
let dbPromise = null;

function promisify(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

export function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains("recordings")) db.createObjectStore("recordings", { keyPath: "key" });
        if (!db.objectStoreNames.contains("chunks")) db.createObjectStore("chunks", { keyPath: ["key", "seq"] });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return dbPromise;
}

export function recordingKey(role, sittingId) {
  return `${role}:${sittingId}`;
}

export async function getRecording(key) {
  const db = await openDb();
  return promisify(db.transaction("recordings").objectStore("recordings").get(key));
}

export async function listRecordings() {
  const db = await openDb();
  return promisify(db.transaction("recordings").objectStore("recordings").getAll());
}

export async function putRecording(record) {
  const db = await openDb();
  const tx = db.transaction("recordings", "readwrite");
  tx.objectStore("recordings").put(record);
  await done(tx);
  return record;
}

/** Read-modify-write of a recording in one transaction; `change(record)` mutates it (or returns a new one). */
export async function updateRecording(key, change) {
  const db = await openDb();
  const tx = db.transaction("recordings", "readwrite");
  const store = tx.objectStore("recordings");
  let result = null;
  store.get(key).onsuccess = (event) => {
    const record = event.target.result;
    if (!record) return;
    result = change(record) || record;
    store.put(result);
  };
  await done(tx);
  return result;
}

/**
 * Append a chunk and advance the recording's counters atomically: the chunk is durable before anyone sends it.
 * `extra` fields (e.g. lastTimecodeMs) are merged into the recording.
 */
export async function appendChunk(key, blob, extra = {}) {
  const db = await openDb();
  const tx = db.transaction(["recordings", "chunks"], "readwrite");
  const recordings = tx.objectStore("recordings");
  let chunk = null;
  recordings.get(key).onsuccess = (event) => {
    const record = event.target.result;
    if (!record) {
      tx.abort();
      return;
    }
    chunk = { key, seq: record.nextSeq, offset: record.bytesWritten, size: blob.size, blob };
    tx.objectStore("chunks").put(chunk);
    record.nextSeq += 1;
    record.bytesWritten += blob.size;
    Object.assign(record, extra);
    recordings.put(record);
  };
  await done(tx);
  return chunk;
}

function chunkRange(key) {
  return IDBKeyRange.bound([key, 0], [key, Number.MAX_SAFE_INTEGER]);
}

/** The oldest chunk not yet acknowledged, or null. */
export async function firstChunk(key) {
  const db = await openDb();
  const request = db.transaction("chunks").objectStore("chunks").openCursor(chunkRange(key));
  const cursor = await promisify(request);
  return cursor ? cursor.value : null;
}

export async function pendingChunks(key) {
  const db = await openDb();
  return promisify(db.transaction("chunks").objectStore("chunks").count(chunkRange(key)));
}

/** The server acknowledged bytes up to `offset`: forget every chunk that ends at or before it. */
export async function acknowledge(key, offset) {
  const db = await openDb();
  const tx = db.transaction(["recordings", "chunks"], "readwrite");
  const chunks = tx.objectStore("chunks");
  chunks.openCursor(chunkRange(key)).onsuccess = (event) => {
    const cursor = event.target.result;
    if (!cursor) return;
    if (cursor.value.offset + cursor.value.size <= offset) {
      cursor.delete();
      cursor.continue();
    }
  };
  const recordings = tx.objectStore("recordings");
  recordings.get(key).onsuccess = (event) => {
    const record = event.target.result;
    if (record && offset > (record.ackedOffset || 0)) {
      record.ackedOffset = offset;
      recordings.put(record);
    }
  };
  await done(tx);
}

export async function deleteRecording(key) {
  const db = await openDb();
  const tx = db.transaction(["recordings", "chunks"], "readwrite");
  tx.objectStore("recordings").delete(key);
  tx.objectStore("chunks").delete(chunkRange(key));
  await done(tx);
}
