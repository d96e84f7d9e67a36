// Calls to the platform's API on this origin, as the signed-in browser: the session cookie goes
// along, and every call carries the CSRF header the gateway checks on changes (the value of the
// `assay_csrf` cookie). An RFC 9457 problem becomes an `ApiError`.
import { el } from "./dom.js";

export const CSRF_COOKIE = "assay_csrf";
export const CSRF_HEADER = "X-CSRF-Token";

/** A problem the platform answered with (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(status, title, detail, code, problem) {
    super(detail || title || `The platform answered with status ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.title = title || "";
    this.detail = detail || "";
    this.code = code || "";
    /** The whole problem document (`errors`, `needed`, …), or {}. */
    this.problem = problem || {};
  }

  /** One readable sentence: the title and the detail, or the invalid fields' messages. */
  get sentence() {
    let detail = this.detail;
    const errors = Array.isArray(this.problem.errors) ? this.problem.errors : [];
    if (!detail) detail = errors.map((e) => e && e.message).filter(Boolean).join("; ");
    let text = [this.title, detail].filter(Boolean).join(": ") || this.message;
    if (!/[.!?]$/.test(text)) text += ".";
    return text;
  }
}

/** The value of a cookie readable by scripts, or "". */
export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/**
 * `method path` with an optional JSON body; resolves to the parsed JSON answer (null for 204).
 * `options.headers` adds headers (e.g. `Assay-Consistency-Token`), `options.signal` aborts.
 * Throws `ApiError` for any answer that is not 2xx and when the platform cannot be reached.
 */
export async function api(method, path, body, options = {}) {
  const headers = { accept: "application/json, application/problem+json", ...(options.headers || {}) };
  const csrf = cookie(CSRF_COOKIE);
  if (csrf) headers[CSRF_HEADER] = csrf;
  const init = { method, headers, credentials: "same-origin", cache: "no-store", signal: options.signal };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new ApiError(0, "The platform cannot be reached", "Check the connection and try again.", "unreachable");
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (response.ok) return data;
  const problem = data && typeof data === "object" ? data : {};
  throw new ApiError(response.status, problem.title, problem.detail, problem.code, problem);
}

/** A query string from an object, leaving out empty values: `query({namespace: "a"})` → "?namespace=a". */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Shows `error` (an ApiError or any Error) in `target` as an error notice; clears it for null. */
export function renderProblem(target, error) {
  if (!target) return;
  if (!error) {
    target.replaceChildren();
    target.hidden = true;
    return;
  }
  const sentence = error instanceof ApiError ? error.sentence : String(error.message || error);
  const children = [el("p", { text: sentence })];
  if (error instanceof ApiError && error.problem.needed) {
    children.push(el("p", { className: "hint" }, "Needed: ", el("code", { text: error.problem.needed })));
  }
  target.replaceChildren(el("div", { className: "notice notice-error" }, ...children));
  target.hidden = false;
}

const TOAST_MS = 5000;

/** A short message at the corner of the page; `kind` is "info", "ok" or "error". */
export function toast(message, kind = "info") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const text = message instanceof ApiError ? message.sentence : String(message && message.message ? message.message : message);
  const item = el("div", { className: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" });
  const close = el("button", { type: "button", className: "toast-close", "aria-label": "Dismiss" }, "×");
  item.append(el("span", { text }), close);
  close.addEventListener("click", () => item.remove());
  region.append(item);
  setTimeout(() => item.remove(), kind === "error" ? TOAST_MS * 2 : TOAST_MS);
}

/** Runs `action` (async), showing its error as a toast; returns its result or undefined. */
export async function attempt(action, { success } = {}) {
  try {
    const result = await action();
    if (success) toast(success, "ok");
    return result;
  } catch (error) {
    toast(error, "error");
    return undefined;
  }
}
