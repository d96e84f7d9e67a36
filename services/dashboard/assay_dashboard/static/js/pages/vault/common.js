// What the vault's pages share: the mount select (with "Enable a mount"), the notice a sealed vault
// answers with, masked values with a reveal button, and text ↔ base64 for transit.
import { ApiError, api, renderProblem } from "../../api.js";
import { el, formDialog } from "../../dom.js";

export const SEAL_PAGE = "/vault/seal";

/** Shows `problem` in `#page-error`; a sealed vault gets a notice linking to the seal page. */
export function showProblem(target, problem) {
  if (problem instanceof ApiError && problem.status === 503 && problem.code === "sealed") {
    target.replaceChildren(
      el(
        "div",
        { className: "notice notice-warn" },
        el("p", {}, "The vault is sealed: nothing in it can be read or changed until it is unsealed. ", el("a", { href: SEAL_PAGE, text: "Open the seal page" }), "."),
      ),
    );
    target.hidden = false;
    return;
  }
  renderProblem(target, problem);
}

/** The URL's `?name=`, or `fallback`. */
export function param(name, fallback = "") {
  return new URLSearchParams(window.location.search).get(name) ?? fallback;
}

/** Sets query parameters (null or "" removes one) as a new history entry, or in place with `replace`. */
export function navigate(params, { replace = false } = {}) {
  const url = new URL(window.location.href);
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") url.searchParams.delete(name);
    else url.searchParams.set(name, String(value));
  }
  const target = url.pathname + url.search + url.hash;
  if (replace) history.replaceState(history.state, "", target);
  else history.pushState(history.state, "", target);
}

/**
 * Fills the mount select with the mounts of `type` ("kv" or "transit"); listing mounts needs a
 * platform administrator, so anyone else keeps the mount of the URL. `onChange(mount)` runs when
 * another is chosen. Returns `reload(chosen?)`, which lists them again and chooses `chosen` (a mount
 * just enabled, or the one of the URL after going back).
 */
export function mountPicker(select, type, onChange) {
  async function load(chosen = select.value) {
    let names = [];
    try {
      const mounts = await api("GET", "/api/v1/vault/mounts");
      names = mounts.items.filter((mount) => mount.type === type).map((mount) => mount.path);
    } catch (_) {
      names = [];
    }
    if (!names.includes(chosen)) names.unshift(chosen);
    select.replaceChildren(...names.map((name) => el("option", { value: name, selected: name === chosen }, name)));
  }
  select.addEventListener("change", () => onChange(select.value));
  load(select.value);
  return load;
}

/** "Enable a mount": a dialog that enables a kv (version 2) or transit engine, then `done(mount)`. */
export async function enableMount(type, done) {
  const values = await formDialog({
    title: "Enable a mount",
    confirm: "Enable",
    fields: [
      { name: "path", label: "Path", required: true, hint: "One segment: letters, digits, - or _ (secret, payments)." },
      { name: "type", label: "Engine", type: "select", value: type, options: [["kv", "KV version 2"], ["transit", "Transit"]] },
      { name: "description", label: "Description" },
    ],
    submit: (v) => api("POST", "/api/v1/vault/mounts", { path: v.path.trim(), type: v.type, description: v.description }),
  });
  if (values) done(values.path.trim(), values.type);
}

const MASK = "••••••••";

/** A value shown masked, with a button that reveals (and hides) it. Objects show as JSON. */
export function maskedValue(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const shown = el("span", { className: "mono secret-value", dataset: { masked: "true" }, text: MASK });
  const toggle = el("button", { type: "button", className: "button button-small", "aria-pressed": "false" }, "Reveal");
  toggle.addEventListener("click", () => {
    const reveal = shown.dataset.masked === "true";
    shown.dataset.masked = String(!reveal);
    shown.textContent = reveal ? text : MASK;
    toggle.textContent = reveal ? "Hide" : "Reveal";
    toggle.setAttribute("aria-pressed", String(reveal));
  });
  return el("span", { className: "masked" }, shown, toggle);
}

/** Reveals (or masks again) every masked value inside `root`. */
export function revealAll(root, reveal) {
  for (const button of root.querySelectorAll(".masked button[aria-pressed]")) {
    if ((button.getAttribute("aria-pressed") === "true") !== reveal) button.click();
  }
}

/** UTF-8 text → base64, as transit takes plaintexts and contexts. */
export function textToBase64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** base64 → UTF-8 text, or null when the bytes are not UTF-8 text. */
export function base64ToText(encoded) {
  const binary = atob(encoded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (_) {
    return null;
  }
}

/** A label and a value, as a `.stat`. */
export function stat(label, value) {
  return el("div", { className: "stat" }, el("span", { className: "stat-label", text: label }), el("span", { className: "stat-value" }, value instanceof Node ? value : String(value)));
}
