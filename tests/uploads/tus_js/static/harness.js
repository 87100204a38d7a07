// Drives the unmodified tus-js-client bundle (global `tus`) for tests/uploads/test_interop_tus_js.py.
// Every function returns a plain JSON-able result for Playwright's page.evaluate.
"use strict";

const ENDPOINT = `${location.origin}/api/v1/uploads/`;
const HEADERS = { Authorization: "Bearer phone-1" };
const METADATA = { filename: "main.webm", filetype: "video/webm" };

// Deterministic source bytes: little-endian 32-bit words w[j] = fmix32(seed + j * 0x9e3779b9) (murmur3's
// finalizer). The test computes the same bytes with numpy, independently of this page.
function fmix32(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function seededBytes(seed, size) {
  const words = new Uint32Array(Math.ceil(size / 4));
  for (let j = 0; j < words.length; j++) words[j] = fmix32((seed + Math.imul(j, 0x9e3779b9)) >>> 0);
  return new Uint8Array(words.buffer, 0, size);
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A recorder: hands out `bytes` in pieces of the given sizes (cycled) every `intervalMs`, whether or not anyone
// reads yet (MediaRecorder's dataavailable does not wait for the network), then closes.
function recorderStream(bytes, pieces, intervalMs, trace) {
  let position = 0;
  let index = 0;
  return new ReadableStream({
    start(controller) {
      const timer = setInterval(() => {
        const n = Math.min(pieces[index++ % pieces.length], bytes.length - position);
        controller.enqueue(bytes.slice(position, position + n));
        position += n;
        if (position >= bytes.length) {
          clearInterval(timer);
          trace.producerDoneAt = performance.now();
          controller.close();
        }
      }, intervalMs);
    },
  });
}

// tus.Upload with a request log (client side: method, URL, status, Upload-Offset) and a promise of the result.
function runUpload(input, options, trace, onUpload) {
  trace.requests = trace.requests || [];
  trace.chunks = trace.chunks || [];
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(input, {
      endpoint: ENDPOINT,
      headers: HEADERS,
      metadata: METADATA,
      retryDelays: [0, 300, 1000, 2000],
      ...options,
      onBeforeRequest(req) {
        trace.requests.push({ method: req.getMethod(), url: req.getURL() });
      },
      onAfterResponse(req, res) {
        const entry = trace.requests.findLast((r) => r.method === req.getMethod() && r.url === req.getURL() && r.status === undefined);
        if (entry) {
          entry.status = res.getStatus();
          entry.offset = res.getHeader("Upload-Offset");
        }
      },
      onProgress(bytesSent) {
        if (options.onProgress) options.onProgress(bytesSent);
      },
      onChunkComplete(chunkSize, bytesAccepted) {
        trace.chunks.push({ at: performance.now(), offset: bytesAccepted });
      },
      onSuccess() {
        resolve(upload.url);
      },
      onError(error) {
        reject(new Error(`tus-js-client: ${error}`));
      },
    });
    Promise.resolve(onUpload(upload)).catch(reject);
  });
}

async function deferredStream({ seed, size, pieces, intervalMs, chunkSize }) {
  const bytes = seededBytes(seed, size);
  const trace = { startedAt: performance.now() };
  const reader = recorderStream(bytes, pieces, intervalMs, trace).getReader();
  trace.url = await runUpload(reader, { chunkSize, uploadLengthDeferred: true }, trace, (upload) => upload.start());
  trace.sha256 = await sha256Hex(bytes);
  return trace;
}

function sourceFile(seed, size) {
  // A fixed lastModified: tus-js-client's fingerprint (name, type, size, lastModified, endpoint) must survive a reload.
  return new File([seededBytes(seed, size)], "main.webm", { type: "video/webm", lastModified: 1780272000000 });
}

async function blobUpload({ seed, size, chunkSize, uploadDataDuringCreation }) {
  const file = sourceFile(seed, size);
  const trace = {};
  trace.url = await runUpload(file, { chunkSize, uploadDataDuringCreation }, trace, (upload) => upload.start());
  trace.sha256 = await sha256Hex(new Uint8Array(await file.arrayBuffer()));
  return trace;
}

// Starts an upload and resolves once `stopAt` bytes were handed to the network; the upload keeps running until
// the test reloads the page under it.
function startResumable({ seed, size, chunkSize, stopAt }) {
  const file = sourceFile(seed, size);
  const trace = {};
  window.resumableTrace = trace;
  return new Promise((resolve, reject) => {
    const onProgress = (bytesSent) => {
      if (bytesSent >= stopAt) resolve({ url: window.resumableUpload.url, bytesSent });
    };
    runUpload(file, { chunkSize, onProgress }, trace, (upload) => {
      window.resumableUpload = upload;
      upload.start();
    }).then(() => reject(new Error("the upload finished before the page was reloaded")), reject);
  });
}

// After the reload: the same file, the URL from tus-js-client's own storage (localStorage), and on to the end.
async function resume({ seed, size, chunkSize }) {
  const file = sourceFile(seed, size);
  const trace = {};
  let previous = [];
  trace.url = await runUpload(file, { chunkSize }, trace, async (upload) => {
    previous = await upload.findPreviousUploads();
    trace.previousUploads = previous.map((p) => p.uploadUrl);
    if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
    upload.start();
  });
  trace.sha256 = await sha256Hex(new Uint8Array(await file.arrayBuffer()));
  return trace;
}

window.harness = { deferredStream, blobUpload, startResumable, resume };
