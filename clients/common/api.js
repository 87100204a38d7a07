// fetch with a bearer token and one error shape. The server answers errors as
// {"error": {"code", "message" (zh-CN), "message_en", "details"?, "request_id"?}}; a network failure becomes code
// "network_error". The request id (also the X-Request-ID header) is what support looks up in the server's logs.

import { pick, t } from "./i18n.js";

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, messageZh, messageEn, details = null, headers = null) {
    super(messageEn || messageZh || code);
    this.status = status;
    this.code = code;
    this.messageZh = messageZh;
    this.messageEn = messageEn;
    this.details = details;
    this.headers = headers;
    this.requestId = headers?.get?.("x-request-id") ?? null;
  }

  /** The message in the current language. */
  get text() {
    return pick(this.messageZh, this.messageEn);
  }

  get isNetwork() {
    return this.status === 0;
  }
}

function networkError(cause) {
  const error = new ApiError(0, "network_error", t("err.network"), "Network error: check the connection and try again");
  error.cause = cause;
  return error;
}

async function toError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy page, a tus status): fall through to a generic error
  }
  const e = body?.error;
  if (e?.code) {
    const error = new ApiError(response.status, e.code, e.message, e.message_en, e.details ?? null, response.headers);
    error.requestId = e.request_id ?? error.requestId;
    return error;
  }
  return new ApiError(response.status, `http_${response.status}`, `请求失败（${response.status}）`, `Request failed (${response.status})`, null, response.headers);
}

/**
 * A client bound to a token source: `getToken()` is called on every request, so a re-login takes effect at once.
 * `onUnauthorized(error)` runs on 401 (expired or revoked token). Once `closed()` says the credential is dead (the
 * server refused it), requests fail here without going out: a refused token is never tried again.
 */
export function apiClient({ getToken = () => null, onUnauthorized = null, closed = () => false } = {}) {
  async function request(method, path, { json, form, headers = {}, signal, raw = false, timeout = 20000 } = {}) {
    if (closed()) throw new ApiError(401, "credential_closed", "本机登录已失效", "This phone's log-in is no longer valid");
    const init = { method, headers: { ...headers }, signal, cache: "no-store" };
    const token = getToken();
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    } else if (form !== undefined) {
      init.body = form; // the browser sets the multipart boundary
    }
    let timer = null;
    if (!signal && timeout) {
      const controller = new AbortController();
      init.signal = controller.signal;
      timer = setTimeout(() => controller.abort(), timeout);
    }
    let response;
    try {
      response = await fetch(path.startsWith("/") ? path : `${API}/${path}`, init);
    } catch (cause) {
      throw networkError(cause);
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (raw) return response;
    if (!response.ok) {
      const error = await toError(response);
      if (response.status === 401 && onUnauthorized) onUnauthorized(error);
      throw error;
    }
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    return type.includes("json") ? response.json() : response.text();
  }

  return {
    request,
    get: (path, options) => request("GET", path, options),
    post: (path, json, options = {}) => request("POST", path, { ...options, json }),
    put: (path, json, options = {}) => request("PUT", path, { ...options, json }),
    patch: (path, json, options = {}) => request("PATCH", path, { ...options, json }),
    delete: (path, options) => request("DELETE", path, options),
    postForm: (path, form, options = {}) => request("POST", path, { ...options, form }),
    putForm: (path, form, options = {}) => request("PUT", path, { ...options, form }),
  };
}

export { toError };
