// Small helpers for building the DOM. Everything shown is set as text or attributes, never
// parsed as HTML, so values from the platform cannot inject markup.

/**
 * An element: `el("a", {href: "/x", className: "button", text: "Open"})`, children after the
 * props (strings become text). Props: `text`, `className`, `dataset` (object), `on` ({event: fn}),
 * `hidden`/`disabled`/`checked`/`value` (set as properties), anything else as an attribute
 * (skipped when null, undefined or false).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else if (["hidden", "disabled", "checked", "value", "selected"].includes(key)) node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---- time --------------------------------------------------------------------------------------

function asDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Date and time in the browser's locale, "—" for none. */
export function formatTime(value) {
  const date = asDate(value);
  return date ? date.toLocaleString() : "—";
}

const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "3 minutes ago", "in 2 hours"; "—" for none. */
export function relativeTime(value, now = Date.now()) {
  const date = asDate(value);
  if (!date) return "—";
  const seconds = Math.round((date.getTime() - now) / 1000);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") return relative.format(Math.round(seconds / size), unit);
  }
  return "—";
}

/** A <time> element showing the relative time, with the full time as its tooltip. */
export function timeElement(value) {
  const date = asDate(value);
  if (!date) return el("span", { className: "muted", text: "—" });
  return el("time", { datetime: date.toISOString(), title: date.toLocaleString(), text: relativeTime(date) });
}

/** "1.2 s", "3 min 4 s", "2 h 5 min" from seconds. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

// ---- values ------------------------------------------------------------------------------------

/** JSON, indented, in a <pre class="json">. */
export function prettyJson(value) {
  const text = value === undefined ? "" : JSON.stringify(value, null, 2);
  return el("pre", { className: "json", tabindex: "0", text });
}

/** A status badge: `badge("running")` → <span class="badge badge-running">running</span>. */
export function badge(status, label) {
  const name = String(status || "unknown").toLowerCase();
  return el("span", { className: `badge badge-${name.replace(/[^a-z0-9_-]/g, "")}`, text: label || name.replace(/_/g, " ") });
}

/** Text that can be copied with one click (an id, a secret shown once). */
export function copyable(text) {
  const button = el("button", { type: "button", className: "button button-small" }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch (_) {
      button.textContent = "Select and copy";
    }
  });
  return el("span", { className: "copyable" }, el("code", { text }), button);
}

// ---- tables ------------------------------------------------------------------------------------

/**
 * A table: `table({columns: [{label, value: (row) => text | Node, className?}], rows, empty,
 * caption?, rowKey?: (row) => string})`. `rowKey` sets `data-key` on each row (for live updates:
 * `updateRow`). Rows with no data show `empty` (a sentence) across the table.
 */
export function table({ columns, rows, empty = "Nothing to show.", caption, rowKey }) {
  const head = el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col", className: c.className, text: c.label }))));
  const body = el("tbody");
  fillRows(body, columns, rows, empty, rowKey);
  return el("div", { className: "table-wrap" }, el("table", { className: "table" }, caption ? el("caption", { text: caption }) : null, head, body));
}

/** One <tr> of `columns` for `row`. */
export function tableRow(columns, row, rowKey) {
  const tr = el("tr", rowKey ? { dataset: { key: rowKey(row) } } : {});
  for (const column of columns) {
    const value = column.value(row);
    tr.append(el("td", { className: column.className }, value instanceof Node ? value : value === null || value === undefined || value === "" ? "—" : String(value)));
  }
  return tr;
}

/** Replaces the rows of a table's body. */
export function fillRows(body, columns, rows, empty, rowKey) {
  if (!rows || rows.length === 0) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: String(columns.length), className: "empty", text: empty })));
    return;
  }
  body.replaceChildren(...rows.map((row) => tableRow(columns, row, rowKey)));
}

/** Replaces (or, when new, prepends) the row whose `data-key` is `rowKey(row)` in `body`. */
export function updateRow(body, columns, row, rowKey) {
  const fresh = tableRow(columns, row, rowKey);
  const key = rowKey(row);
  const existing = [...body.rows].find((tr) => tr.dataset.key === key);
  if (existing) existing.replaceWith(fresh);
  else {
    body.querySelector("td.empty")?.parentElement?.remove();
    body.prepend(fresh);
  }
  return fresh;
}

// ---- dialogs -----------------------------------------------------------------------------------

function openDialog(dialog) {
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
}

/**
 * Asks to confirm: resolves true when confirmed. `{title, message, confirm: "Delete", danger: true}`.
 */
export function confirmDialog({ title, message, confirm = "Confirm", cancel = "Cancel", danger = false }) {
  return new Promise((resolve) => {
    const ok = el("button", { type: "submit", value: "confirm", className: danger ? "button button-danger" : "button button-primary" }, confirm);
    const no = el("button", { type: "submit", value: "cancel", className: "button" }, cancel);
    const dialog = el(
      "dialog",
      { className: "dialog", "aria-labelledby": "dialog-title" },
      el("form", { method: "dialog" }, el("h2", { id: "dialog-title", text: title }), message ? el("p", { text: message }) : null, el("div", { className: "dialog-actions" }, no, ok)),
    );
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"));
    openDialog(dialog);
    no.focus();
  });
}

/**
 * A form in a dialog; resolves to the values by field name (JSON fields parsed), or null when
 * cancelled. Fields: `{name, label, type?: "text"|"textarea"|"json"|"select"|"checkbox"|"number"|
 * "password"|…, required?, value?, placeholder?, hint?, options?: [[value, label]]}`.
 * `submit(values)` (optional, async) runs before the dialog closes; an error it throws is shown
 * in the dialog, which stays open.
 */
export function formDialog({ title, fields, confirm = "Save", danger = false, submit }) {
  return new Promise((resolve) => {
    const error = el("div", { className: "page-error", role: "alert", hidden: true });
    const inputs = fields.map((field) => fieldControl(field));
    const ok = el("button", { type: "submit", className: danger ? "button button-danger" : "button button-primary" }, confirm);
    const cancel = el("button", { type: "button", className: "button" }, "Cancel");
    const form = el("form", { className: "form" }, el("h2", { id: "dialog-title", text: title }), error, inputs.map((i) => i.wrapper), el("div", { className: "dialog-actions" }, cancel, ok));
    const dialog = el("dialog", { className: "dialog", "aria-labelledby": "dialog-title" }, form);
    let result = null;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let values;
      try {
        values = Object.fromEntries(inputs.map((i) => [i.field.name, i.read()]));
      } catch (problem) {
        error.replaceChildren(el("p", { text: problem.message }));
        error.hidden = false;
        return;
      }
      ok.disabled = true;
      try {
        if (submit) await submit(values);
        result = values;
        dialog.close();
      } catch (problem) {
        error.replaceChildren(el("p", { text: problem.sentence || problem.message || String(problem) }));
        error.hidden = false;
      } finally {
        ok.disabled = false;
      }
    });
    dialog.addEventListener("close", () => resolve(result));
    openDialog(dialog);
    inputs[0]?.control.focus();
  });
}

let fieldCount = 0;

/** A labelled control for a form: `{wrapper, control, field, read()}`. */
export function fieldControl(field) {
  const id = `field-${++fieldCount}`;
  const type = field.type || "text";
  const hintId = field.hint ? `${id}-hint` : null;
  const common = { id, name: field.name, required: field.required || null, "aria-describedby": hintId, placeholder: field.placeholder || null };
  let control;
  if (type === "textarea" || type === "json") {
    control = el("textarea", { ...common, rows: "5", spellcheck: type === "json" ? "false" : null, className: type === "json" ? "mono" : null });
    control.value = field.value === undefined ? "" : type === "json" && typeof field.value !== "string" ? JSON.stringify(field.value, null, 2) : field.value;
  } else if (type === "select") {
    control = el("select", common, (field.options || []).map(([value, label]) => el("option", { value, selected: String(value) === String(field.value ?? "") }, label)));
  } else if (type === "checkbox") {
    control = el("input", { ...common, type: "checkbox", checked: Boolean(field.value) });
  } else {
    control = el("input", { ...common, type, autocomplete: field.autocomplete || "off" });
    if (field.value !== undefined && field.value !== null) control.value = String(field.value);
  }
  const label = el("label", { for: id, text: field.label });
  const hint = field.hint ? el("p", { id: hintId, className: "hint", text: field.hint }) : null;
  const wrapper = el("div", { className: type === "checkbox" ? "field field-inline" : "field" }, type === "checkbox" ? [control, label] : [label, control], hint);
  function read() {
    if (type === "checkbox") return control.checked;
    if (type === "number") return control.value === "" ? null : Number(control.value);
    if (type === "json") {
      if (!control.value.trim()) return null;
      try {
        return JSON.parse(control.value);
      } catch (_) {
        control.setAttribute("aria-invalid", "true");
        throw new Error(`${field.label}: this is not valid JSON.`);
      }
    }
    return control.value;
  }
  return { wrapper, control, field, read };
}

// ---- page plumbing -----------------------------------------------------------------------------

/** The console's namespace: `?namespace=`, else the whitelabel default. */
export function currentNamespace() {
  return new URLSearchParams(window.location.search).get("namespace") || document.body.dataset.namespace || document.body.dataset.defaultNamespace || "main";
}

/** Changes one query parameter in the address bar (no reload); removes it for "" or null. */
export function setQueryParam(name, value) {
  const url = new URL(window.location.href);
  if (value === null || value === undefined || value === "") url.searchParams.delete(name);
  else url.searchParams.set(name, value);
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}

/** Marks `root` as loaded (aria-busy off) and fills it with `children`. */
export function fill(root, ...children) {
  root.removeAttribute("aria-busy");
  root.replaceChildren(...children.flat());
}

/**
 * Tabs: `tabs([{id, label, render: () => Node}], {selected})` → a <div class="tabs"> with a
 * tablist and one panel; a tab's content is rendered each time it is chosen. Arrow keys move
 * between tabs.
 */
export function tabs(items, { selected } = {}) {
  const prefix = `tabs-${++fieldCount}`;
  const list = el("div", { className: "tablist", role: "tablist" });
  const panel = el("div", { id: `${prefix}-panel`, className: "tabpanel", role: "tabpanel", tabindex: "0" });
  const buttons = items.map((item) => el("button", { type: "button", role: "tab", id: `${prefix}-${item.id}`, "aria-controls": panel.id, "aria-selected": "false", tabindex: "-1", text: item.label }));
  function choose(index, focus) {
    buttons.forEach((button, i) => {
      button.setAttribute("aria-selected", String(i === index));
      button.tabIndex = i === index ? 0 : -1;
    });
    panel.setAttribute("aria-labelledby", buttons[index].id);
    panel.replaceChildren(items[index].render());
    if (focus) buttons[index].focus();
  }
  buttons.forEach((button, index) => {
    button.addEventListener("click", () => choose(index, false));
    button.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) choose((index + step + buttons.length) % buttons.length, true);
    });
  });
  list.append(...buttons);
  const first = Math.max(0, items.findIndex((item) => item.id === selected));
  choose(first, false);
  return el("div", { className: "tabs" }, list, panel);
}

/** Shows `text` in a `.message` live region: `say(node, "error", "…")`; `say(node)` clears it. */
export function say(node, kind = "info", text = "") {
  node.className = `message${text ? ` message-${kind}` : ""}`;
  node.textContent = text;
}

/** A same-origin path to go to, from an untrusted value (`return_to`); `fallback` otherwise. */
export function sameOriginPath(value, fallback = "/") {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return fallback;
  try {
    const url = new URL(value, window.location.origin);
    return url.origin === window.location.origin ? url.pathname + url.search + url.hash : fallback;
  } catch (_) {
    return fallback;
  }
}
