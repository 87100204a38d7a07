// IndexedDB: the phone's durable copy of every recording chunk until the server VERIFIED the recording (not only
// acknowledged its bytes): a recording the server could not read (`failed`) is sent again from these chunks.
//
// recordings (key "<role>:<sittingId>"): one per sitting and role, the recording's bookkeeping:
//   mime, container, startedServerMs, segments, bytesWritten, lastTimecodeMs, nextSeq, uploadUrl, ackedOffset
//   (the server's offset of the current upload), stopped, totalLength, lengthDeclared, verified, result,
//   rejected ([{uploadUrl, reason, at}]: uploads the server failed; the recording was sent again after each)
// chunks (key [recording key, seq], index "offset" on [recording key, offset]): {key, seq, offset, size, blob} —
//   appended in order, all deleted together once the server verified the recording.

const DB_NAME = "dualcam";
const DB_VERSION = 2;
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
        const chunks = db.objectStoreNames.contains("chunks")
          ? request.transaction.objectStore("chunks")
          : db.createObjectStore("chunks", { keyPath: ["key", "seq"] });
        // v2: chunks stay until verification, so the uploader finds the one holding an offset by this index.
        if (!chunks.indexNames.contains("offset")) chunks.createIndex("offset", ["key", "offset"]);
      };
      request.onsuccess = () => {
        const db = request.result;
        // A newer version of the app opened in another tab: let it upgrade (this page reopens on its next load).
        db.onversionchange = () => {
          db.close();
          dbPromise = null;
        };
        resolve(db);
      };
      request.onerror = () => {
        dbPromise = null;
        reject(request.error);
      };
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

/**
 * The chunk holding byte `offset` of the recording; else the first one after it (the caller sees the gap); null
 * when no chunk holds or follows it (everything up to `offset` is all there is).
 */
export async function chunkAt(key, offset) {
  const db = await openDb();
  const index = db.transaction("chunks").objectStore("chunks").index("offset");
  const before = await promisify(index.openCursor(IDBKeyRange.bound([key, 0], [key, offset]), "prev"));
  if (before && before.value.offset + before.value.size > offset) return before.value;
  const after = await promisify(index.openCursor(IDBKeyRange.bound([key, offset], [key, Number.MAX_SAFE_INTEGER])));
  return after ? after.value : null;
}

export async function countChunks(key) {
  const db = await openDb();
  return promisify(db.transaction("chunks").objectStore("chunks").count(chunkRange(key)));
}

/** The server holds bytes up to `offset` of the current upload (its word, even when lower than before). */
export async function acknowledge(key, offset) {
  return updateRecording(key, (record) => void (record.ackedOffset = offset));
}

/**
 * The server could not verify the upload at `uploadUrl` (`reason`): forget that upload — the next creation gets a
 * new one — and send every chunk again from offset 0. Idempotent for one upload. Returns the record.
 */
export async function rejectUpload(key, uploadUrl, reason) {
  return updateRecording(key, (record) => {
    record.rejected = record.rejected || [];
    if (!record.rejected.some((r) => r.uploadUrl === uploadUrl)) record.rejected.push({ uploadUrl, reason, at: Date.now() });
    if (record.uploadUrl === uploadUrl) {
      record.uploadUrl = null;
      record.ackedOffset = 0;
      record.lengthDeclared = false;
    }
  });
}

/** The server verified the recording: keep its bookkeeping (the screen shows it), drop its bytes, in one go. */
export async function markVerified(key, result) {
  const db = await openDb();
  const tx = db.transaction(["recordings", "chunks"], "readwrite");
  tx.objectStore("chunks").delete(chunkRange(key));
  const recordings = tx.objectStore("recordings");
  recordings.get(key).onsuccess = (event) => {
    const record = event.target.result;
    if (!record) return;
    record.verified = true;
    record.result = result;
    if (record.totalLength !== null && record.totalLength !== undefined) record.ackedOffset = record.totalLength;
    recordings.put(record);
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
