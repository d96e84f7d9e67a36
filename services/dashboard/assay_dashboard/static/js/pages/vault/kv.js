// KV version 2 secrets of one mount. The URL holds what is shown (`?mount=&path=&version=`), so a
// reload or a shared link opens the same folder, secret and version. A path ending in "/" (or
// none) is a folder; any other is a secret, shown beside its folder. Values stay masked until
// revealed. Secret events of the mount refresh the folder and the secret shown.
import { ApiError, api, attempt, renderProblem, toast } from "../../api.js";
import { badge, confirmDialog, el, fill, formDialog, table, tabs, timeElement } from "../../dom.js";
import { connect, onResync, subscribe } from "../../live.js";
import { enableMount, maskedValue, mountPicker, navigate, param, revealAll, showProblem, stat } from "./common.js";

const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const folderRoot = document.getElementById("folder");
const breadcrumbs = document.getElementById("breadcrumbs");
const secretTitle = document.getElementById("secret-title");
const mountSelect = document.getElementById("mount");

/** The mount's settings (`cas_required` decides whether a write sends `cas`); null if unreadable. */
let mountConfig = null;
/** The secret shown: `{path, meta, version, info, data}`. */
let shown = null;

const mount = () => mountSelect.value;
const currentPath = () => param("path");
const isFolder = (path) => path === "" || path.endsWith("/");
const folderOf = (path) => (isFolder(path) ? path : path.slice(0, path.lastIndexOf("/") + 1));
const base = () => `/api/v1/vault/kv/${encodeURIComponent(mount())}`;
const encodePath = (path) => path.split("/").map(encodeURIComponent).join("/");

function link(text, path, extra = {}) {
  const params = new URLSearchParams({ mount: mount(), path });
  const anchor = el("a", { href: `?${params}`, text, ...extra });
  anchor.addEventListener("click", (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    go(path);
  });
  return anchor;
}

function go(path, version = null) {
  navigate({ path, version });
  load();
}

// ---- the folder --------------------------------------------------------------------------------

function renderBreadcrumbs(path) {
  const folder = folderOf(path);
  const parts = folder.split("/").filter(Boolean);
  const items = [el("li", {}, link(mount(), "", folder === "" ? { "aria-current": "location" } : {}))];
  parts.forEach((part, index) => {
    const prefix = `${parts.slice(0, index + 1).join("/")}/`;
    items.push(el("li", {}, link(`${part}/`, prefix, prefix === folder ? { "aria-current": "location" } : {})));
  });
  breadcrumbs.replaceChildren(el("ol", {}, items));
}

/** What the folder shows, to leave it alone when an event changed nothing in it. */
let listing = null;

async function loadFolder(path, { onlyIfChanged = false } = {}) {
  const folder = folderOf(path);
  if (!onlyIfChanged) {
    renderBreadcrumbs(path);
    folderRoot.setAttribute("aria-busy", "true");
  }
  try {
    const { keys } = await api("GET", `${base()}/keys?${new URLSearchParams({ prefix: folder })}`);
    const fresh = JSON.stringify([mount(), path, keys]);
    if (onlyIfChanged && fresh === listing) return true;
    listing = fresh;
    const columns = [
      {
        label: "Name",
        value: (key) => link(key, folder + key, (folder + key) === path ? { "aria-current": "page" } : {}),
      },
      { label: "Kind", value: (key) => (key.endsWith("/") ? "folder" : "secret") },
    ];
    const made = table({ columns, rows: keys, empty: folder ? `Nothing in ${folder}.` : "No secrets in this mount yet." });
    for (const row of made.querySelectorAll("tbody tr")) if (row.querySelector('[aria-current="page"]')) row.classList.add("selected");
    fill(folderRoot, made);
    return true;
  } catch (problem) {
    fill(folderRoot);
    showProblem(error, problem);
    return false;
  }
}

// ---- a secret ----------------------------------------------------------------------------------

function versionState(info) {
  if (!info) return "missing";
  if (info.destroyed) return "destroyed";
  if (info.deletion_time && new Date(info.deletion_time) <= new Date()) return "deleted";
  return "active";
}

const readable = (meta) => meta.versions.filter((info) => versionState(info) === "active");

async function readVersion(path, version) {
  const answer = await api("GET", `${base()}/secrets/${encodePath(path)}?version=${version}`);
  return answer.data;
}

async function loadSecret(path, tab) {
  secretTitle.textContent = path;
  root.setAttribute("aria-busy", "true");
  let meta;
  try {
    meta = await api("GET", `${base()}/metadata/${encodePath(path)}`);
  } catch (problem) {
    if (problem instanceof ApiError && problem.status === 404) {
      shown = null;
      fill(root, el("p", { className: "notice notice-info" }, `There is no secret at ${path} yet: write its first version.`), editor(path, null));
      return;
    }
    fill(root);
    showProblem(error, problem);
    return;
  }
  const wanted = Number(param("version")) || meta.current_version;
  const info = meta.versions.find((v) => v.version === wanted) || null;
  let data = null;
  if (versionState(info) === "active") {
    try {
      data = await readVersion(path, wanted);
    } catch (problem) {
      showProblem(error, problem);
    }
  }
  shown = { path, meta, version: wanted, info, data };
  renderSecret(tab);
}

function renderSecret(tab = "data") {
  const { meta } = shown;
  fill(
    root,
    tabs(
      [
        { id: "data", label: "Data", render: dataPanel },
        { id: "versions", label: `Versions (${meta.versions.length})`, render: versionsPanel },
        { id: "compare", label: "Compare", render: comparePanel },
        { id: "metadata", label: "Metadata", render: metadataPanel },
        { id: "write", label: "New version", render: () => editor(shown.path, shown) },
      ],
      { selected: tab },
    ),
  );
}

function versionActions(info) {
  const state = versionState(info);
  const buttons = [];
  if (state === "active") buttons.push(actionButton("Delete", () => changeVersions("delete", [info.version])));
  if (state === "deleted") buttons.push(actionButton("Undelete", () => changeVersions("undelete", [info.version])));
  if (state !== "destroyed" && state !== "missing") {
    buttons.push(
      actionButton("Destroy", async () => {
        const sure = await confirmDialog({
          title: `Destroy version ${info.version}?`,
          message: "Its value is removed for good: it cannot be undeleted or read again.",
          confirm: "Destroy",
          danger: true,
        });
        if (sure) await changeVersions("destroy", [info.version]);
      }, true),
    );
  }
  return buttons;
}

function actionButton(text, action, danger = false) {
  const button = el("button", { type: "button", className: `button button-small${danger ? " button-danger" : ""}` }, text);
  button.addEventListener("click", action);
  return button;
}

async function changeVersions(operation, versions) {
  const done = { delete: "deleted", undelete: "restored", destroy: "destroyed" }[operation];
  const ok = await attempt(() => api("POST", `${base()}/${operation}/${encodePath(shown.path)}`, { versions }), {
    success: `Version ${versions.join(", ")} ${done}`,
  });
  if (ok !== undefined) await loadSecret(shown.path, currentTab());
}

function currentTab() {
  const selected = root.querySelector('[role="tab"][aria-selected="true"]');
  return selected ? selected.id.replace(/^tabs-\d+-/, "") : "data";
}

function versionSelect(meta, chosen, id, onChange) {
  const select = el(
    "select",
    { id },
    [...meta.versions].reverse().map((info) => {
      const state = versionState(info);
      const label = `Version ${info.version}${info.version === meta.current_version ? " (current)" : ""}${state === "active" ? "" : ` — ${state}`}`;
      return el("option", { value: String(info.version), selected: info.version === chosen }, label);
    }),
  );
  if (onChange) select.addEventListener("change", () => onChange(Number(select.value)));
  return select;
}

function valuesTable(data, caption) {
  const rows = Object.entries(data).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return table({
    caption,
    columns: [
      { label: "Key", value: ([key]) => el("span", { className: "mono", text: key }) },
      { label: "Value", value: ([, value]) => maskedValue(value) },
    ],
    rows,
    empty: "This version holds no keys.",
  });
}

function dataPanel() {
  const { meta, version, info, data } = shown;
  if (meta.versions.length === 0) return el("p", { className: "empty", text: "This secret has metadata but no version yet: write one." });
  const select = versionSelect(meta, version, "data-version", (picked) => {
    navigate({ version: picked === meta.current_version ? null : picked });
    loadSecret(shown.path, "data");
  });
  const state = versionState(info);
  const reveal = el("button", { type: "button", className: "button button-small", "aria-pressed": "false" }, "Reveal all");
  const body = el("div", { className: "vault-version" });
  reveal.addEventListener("click", () => {
    const on = reveal.getAttribute("aria-pressed") !== "true";
    revealAll(body, on);
    reveal.setAttribute("aria-pressed", String(on));
    reveal.textContent = on ? "Hide all" : "Reveal all";
  });
  if (data) body.append(valuesTable(data, `Version ${version}${version === meta.current_version ? ", the current one" : ""}`));
  else if (state === "deleted") body.append(el("p", { className: "notice notice-warn" }, `Version ${version} is deleted: undelete it to read its value.`));
  else if (state === "destroyed") body.append(el("p", { className: "notice notice-error" }, `Version ${version} is destroyed: its value is gone for good.`));
  else body.append(el("p", { className: "notice notice-error" }, `Version ${version} does not exist.`));
  return el(
    "div",
    {},
    el(
      "div",
      { className: "toolbar" },
      el("div", { className: "field" }, el("label", { for: "data-version", text: "Version" }), select),
      el("div", { className: "button-row" }, badge(state), data ? reveal : null, ...versionActions(info)),
    ),
    body,
    el("p", { className: "hint" }, "Created ", timeElement(info && info.created_time), info && info.deletion_time && state === "active" ? ["; deleted automatically ", timeElement(info.deletion_time)] : null),
  );
}

function versionsPanel() {
  const { meta } = shown;
  const columns = [
    { label: "Version", className: "num", value: (info) => String(info.version) },
    { label: "State", value: (info) => el("span", { className: "chips" }, badge(versionState(info)), info.version === meta.current_version ? el("span", { className: "chip", text: "current" }) : null) },
    { label: "Created", value: (info) => timeElement(info.created_time) },
    { label: "Deleted", value: (info) => (info.deletion_time ? timeElement(info.deletion_time) : "—") },
    {
      label: "Actions",
      className: "actions",
      value: (info) =>
        el(
          "span",
          {},
          versionState(info) === "active"
            ? actionButton(`View`, () => {
                navigate({ version: info.version === meta.current_version ? null : info.version });
                loadSecret(shown.path, "data");
              })
            : null,
          ...versionActions(info),
        ),
    },
  ];
  const rows = [...meta.versions].reverse();
  return el(
    "div",
    {},
    table({ columns, rows, caption: `Versions of ${meta.path}, newest first`, empty: "No versions." }),
    meta.oldest_version ? el("p", { className: "hint", text: `Versions before ${meta.oldest_version} were pruned (the secret keeps at most its max_versions).` }) : null,
  );
}

function comparePanel() {
  const { meta } = shown;
  const versions = readable(meta);
  if (versions.length < 2) return el("p", { className: "empty", text: "Two readable versions are needed to compare." });
  const newest = versions[versions.length - 1].version;
  const older = versions[versions.length - 2].version;
  const from = versionSelect({ ...meta, versions }, older, "compare-from");
  const to = versionSelect({ ...meta, versions }, newest, "compare-to");
  const result = el("div", { "aria-live": "polite" });
  const form = el(
    "form",
    { className: "toolbar" },
    el("div", { className: "field" }, el("label", { for: "compare-from", text: "From" }), from),
    el("div", { className: "field" }, el("label", { for: "compare-to", text: "To" }), to),
    el("button", { type: "submit", className: "button button-primary" }, "Compare"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const [a, b] = await Promise.all([readVersion(shown.path, Number(from.value)), readVersion(shown.path, Number(to.value))]);
      result.replaceChildren(diffTable(a, b, from.value, to.value));
    } catch (problem) {
      showProblem(error, problem);
    }
  });
  return el("div", {}, form, result);
}

/** The keys added, removed and changed from `before` to `after` (unchanged ones last). */
function diff(before, after) {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const order = { added: 0, removed: 1, changed: 2, unchanged: 3 };
  return keys
    .map((key) => {
      const change = !(key in before) ? "added" : !(key in after) ? "removed" : JSON.stringify(before[key]) === JSON.stringify(after[key]) ? "unchanged" : "changed";
      return { key, change, before: before[key], after: after[key] };
    })
    .sort((x, y) => order[x.change] - order[y.change]);
}

function diffTable(before, after, fromVersion, toVersion) {
  const rows = diff(before, after);
  const counts = ["added", "removed", "changed"].map((change) => `${rows.filter((r) => r.change === change).length} ${change}`).join(", ");
  return el(
    "div",
    {},
    el("p", { className: "hint", text: `From version ${fromVersion} to version ${toVersion}: ${counts}.` }),
    table({
      caption: `Changes from version ${fromVersion} to version ${toVersion}`,
      columns: [
        { label: "Key", value: (row) => el("span", { className: "mono", text: row.key }) },
        { label: "Change", value: (row) => el("span", { className: `badge vault-change-${row.change}`, text: row.change }) },
        { label: `Version ${fromVersion}`, value: (row) => (row.change === "added" ? "—" : maskedValue(row.before)) },
        { label: `Version ${toVersion}`, value: (row) => (row.change === "removed" ? "—" : maskedValue(row.after)) },
      ],
      rows,
      empty: "Both versions hold no keys.",
    }),
  );
}

function metadataPanel() {
  const { meta } = shown;
  const edit = el("button", { type: "button", className: "button" }, "Edit metadata");
  edit.addEventListener("click", editMetadata);
  const remove = el("button", { type: "button", className: "button button-danger" }, "Delete the secret and every version");
  remove.addEventListener("click", deleteSecret);
  const custom = Object.entries(meta.custom_metadata);
  return el(
    "div",
    {},
    el(
      "div",
      { className: "card vault-stats" },
      stat("Current version", meta.current_version),
      stat("Oldest kept", meta.oldest_version || "—"),
      stat("Versions kept", meta.max_versions || "the mount's"),
      stat("Check-and-set", meta.cas_required ? "required" : "not required"),
      stat("Delete versions after", meta.delete_version_after_seconds ? `${meta.delete_version_after_seconds} s` : "never (or the mount's)"),
      stat("Created", timeElement(meta.created_time)),
      stat("Updated", timeElement(meta.updated_time)),
    ),
    el("h3", { text: "Custom metadata" }),
    table({
      columns: [
        { label: "Key", value: ([key]) => el("span", { className: "mono", text: key }) },
        { label: "Value", value: ([, value]) => value },
      ],
      rows: custom,
      empty: "No custom metadata.",
    }),
    el("div", { className: "button-row vault-actions" }, edit, remove),
  );
}

async function editMetadata() {
  const { meta } = shown;
  const saved = await formDialog({
    title: `Metadata of ${meta.path}`,
    fields: [
      { name: "max_versions", label: "Versions kept", type: "number", value: meta.max_versions, hint: "0: the mount's setting (10 when it has none)." },
      { name: "cas_required", label: "Require check-and-set on writes", type: "checkbox", value: meta.cas_required },
      { name: "delete_version_after_seconds", label: "Delete versions after (seconds)", type: "number", value: meta.delete_version_after_seconds, hint: "0: never (or the mount's setting)." },
      { name: "custom_metadata", label: "Custom metadata", type: "json", value: meta.custom_metadata, hint: 'A JSON object of strings, e.g. {"owner": "payments"}.' },
    ],
    submit: (values) =>
      api("PUT", `${base()}/metadata/${encodePath(meta.path)}`, {
        max_versions: values.max_versions ?? 0,
        cas_required: values.cas_required,
        delete_version_after_seconds: values.delete_version_after_seconds ?? 0,
        custom_metadata: values.custom_metadata || {},
        cas: meta.metadata_cas_required ? meta.current_metadata_version : undefined,
      }),
  });
  if (saved) {
    toast("Metadata saved", "ok");
    await loadSecret(meta.path, "metadata");
  }
}

async function deleteSecret() {
  const { path } = shown;
  const sure = await confirmDialog({
    title: `Delete ${path}?`,
    message: "Its metadata and every version, with their values, are deleted for good.",
    confirm: "Delete everything",
    danger: true,
  });
  if (!sure) return;
  if ((await attempt(() => api("DELETE", `${base()}/metadata/${encodePath(path)}`), { success: `${path} deleted` })) !== undefined) go(folderOf(path));
}

// ---- the editor of a new version ------------------------------------------------------------------

let rowCount = 0;

function editorRow(key = "", value = "") {
  const n = ++rowCount;
  const keyInput = el("input", { type: "text", className: "mono", "aria-label": `Key ${n}`, autocomplete: "off", spellcheck: "false" });
  // Set as the attribute (the default value): each row says which value of the version it started from.
  keyInput.defaultValue = key;
  const valueInput = el("input", { type: "text", className: "mono", "aria-label": `Value ${n}`, autocomplete: "off", spellcheck: "false" });
  valueInput.defaultValue = typeof value === "string" ? value : JSON.stringify(value);
  const remove = el("button", { type: "button", className: "button button-small", "aria-label": `Remove row ${n}` }, "Remove");
  const row = el("div", { className: "vault-row" }, keyInput, valueInput, remove);
  remove.addEventListener("click", () => row.remove());
  return row;
}

function rowsToData(rowsRoot) {
  const data = {};
  for (const row of rowsRoot.querySelectorAll(".vault-row")) {
    const [key, value] = row.querySelectorAll("input");
    if (!key.value && !value.value) continue;
    if (!key.value) throw new Error("Every value needs a key.");
    if (key.value in data) throw new Error(`The key ${key.value} is there twice.`);
    data[key.value] = value.value;
  }
  return data;
}

function editor(path, current) {
  const meta = current && current.meta;
  const initial = current && current.version === meta.current_version && current.data ? current.data : {};
  const casRequired = Boolean((meta && meta.cas_required) || (mountConfig && mountConfig.cas_required));
  const message = el("div", { className: "page-error", role: "alert", hidden: true });
  const rows = el("div", { className: "vault-rows" });
  const entries = Object.entries(initial);
  for (const [key, value] of entries.length ? entries : [["", ""]]) rows.append(editorRow(key, value));
  const addRow = el("button", { type: "button", className: "button button-small" }, "Add a row");
  addRow.addEventListener("click", () => {
    const row = editorRow();
    rows.append(row);
    row.querySelector("input").focus();
  });
  const json = el("textarea", { id: "secret-json", className: "mono", rows: "8", spellcheck: "false" });
  const asRows = el("div", {}, el("p", { className: "hint", text: "One key and its value per row; values are saved as text." }), rows, addRow);
  const asJson = el("div", { className: "field", hidden: true }, el("label", { for: "secret-json", text: "Value as JSON" }), json, el("p", { className: "hint", text: "A JSON object; values may be any JSON." }));
  let mode = "rows";
  const modes = el(
    "fieldset",
    { className: "vault-modes" },
    el("legend", { text: "Edit as" }),
    ["rows", "json"].map((value) =>
      el("label", { className: "field-inline" }, el("input", { type: "radio", name: `mode-${path}`, value, checked: value === "rows", on: { change: () => switchMode(value) } }), value === "rows" ? "Key/value rows" : "JSON"),
    ),
  );
  function switchMode(next) {
    try {
      if (next === "json") json.value = JSON.stringify(rowsToData(rows), null, 2);
      else {
        const parsed = parseJson(json.value);
        rows.replaceChildren(...(Object.keys(parsed).length ? Object.entries(parsed) : [["", ""]]).map(([k, v]) => editorRow(k, v)));
      }
      mode = next;
      asRows.hidden = next !== "rows";
      asJson.hidden = next !== "json";
      message.hidden = true;
    } catch (problem) {
      modes.querySelector(`input[value="${mode}"]`).checked = true;
      say(problem);
    }
  }
  function say(problem) {
    message.replaceChildren(el("div", { className: "notice notice-error" }, el("p", { text: problem.sentence || problem.message })));
    message.hidden = false;
  }
  const cas = el("input", { id: "secret-cas", type: "number", min: "0", value: String(meta ? meta.current_version : 0), "aria-describedby": "secret-cas-hint" });
  const casField = casRequired
    ? el("div", { className: "field" }, el("label", { for: "secret-cas", text: "Check-and-set version" }), cas, el("p", { id: "secret-cas-hint", className: "hint", text: "This secret requires it: the write succeeds only if this is still the current version (0 for a new secret)." }))
    : null;
  const form = el(
    "form",
    { className: "form vault-editor", "aria-label": `New version of ${path}` },
    message,
    modes,
    asRows,
    asJson,
    casField,
    el("div", { className: "button-row" }, el("button", { type: "submit", className: "button button-primary" }, meta && meta.current_version ? "Save a new version" : "Save the first version")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const data = mode === "rows" ? rowsToData(rows) : parseJson(json.value);
      const body = casRequired ? { data, cas: Number(cas.value) } : { data };
      const written = await api("PUT", `${base()}/secrets/${encodePath(path)}`, body);
      toast(`Version ${written.version.version} of ${path} saved`, "ok");
      navigate({ path, version: null });
      renderProblem(error, null);
      await Promise.all([loadFolder(path), loadSecret(path, "data")]);
    } catch (problem) {
      say(problem);
    }
  });
  return form;
}

function parseJson(text) {
  let value;
  try {
    value = JSON.parse(text || "{}");
  } catch (_) {
    throw new Error("This is not valid JSON.");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("The value must be a JSON object.");
  return value;
}

// ---- the page ----------------------------------------------------------------------------------

async function loadMountConfig() {
  try {
    mountConfig = await api("GET", `${base()}/config`);
  } catch (_) {
    mountConfig = null; // its folder listing shows why (not mounted, sealed, not allowed)
  }
}

async function load() {
  renderProblem(error, null);
  const path = currentPath();
  const listed = await loadFolder(path);
  if (isFolder(path)) {
    shown = null;
    secretTitle.textContent = "Secret";
    fill(root, el("p", { className: "empty", text: listed ? "Choose a secret in the folder, or make a new one." : "" }));
  } else if (listed) {
    await loadSecret(path, "data");
  } else {
    fill(root);
  }
}

async function newSecret() {
  const folder = folderOf(currentPath());
  const values = await formDialog({
    title: "New secret",
    confirm: "Continue",
    fields: [{ name: "path", label: "Path", required: true, value: folder, hint: "Folders are separated by /, e.g. app/db. The next step takes its value." }],
  });
  if (!values) return;
  const path = values.path.trim().replace(/^\/+/, "");
  if (!path || isFolder(path)) return toast("A secret's path cannot be empty or end in /.", "error");
  go(path);
}

async function editMountConfig() {
  await loadMountConfig();
  if (!mountConfig) return toast(`The settings of ${mount()} cannot be read.`, "error");
  const saved = await formDialog({
    title: `Settings of ${mount()}`,
    fields: [
      { name: "max_versions", label: "Versions kept per secret", type: "number", value: mountConfig.max_versions, hint: "0: 10." },
      { name: "cas_required", label: "Require check-and-set on every write", type: "checkbox", value: mountConfig.cas_required },
      { name: "metadata_cas_required", label: "Require check-and-set on metadata writes", type: "checkbox", value: mountConfig.metadata_cas_required },
      { name: "delete_version_after_seconds", label: "Delete versions after (seconds)", type: "number", value: mountConfig.delete_version_after_seconds, hint: "0: never." },
    ],
    submit: async (values) => {
      mountConfig = await api("PUT", `${base()}/config`, {
        max_versions: values.max_versions ?? 0,
        cas_required: values.cas_required,
        metadata_cas_required: values.metadata_cas_required,
        delete_version_after_seconds: values.delete_version_after_seconds ?? 0,
      });
    },
  });
  if (saved) {
    toast("Mount settings saved", "ok");
    if (shown) renderSecret(currentTab());
  }
}

// A secret event of this mount: refresh the folder, and the secret if it is the one shown, when
// they changed (the page's own changes are shown already, and a value revealed stays revealed).
// The editor is left alone, so typing is never lost.
async function onSecretEvent(event) {
  if (!event.data || event.data.mount !== mount()) return;
  const path = currentPath();
  if (event.data.path.startsWith(folderOf(path))) loadFolder(path, { onlyIfChanged: true });
  if (!shown || event.data.path !== shown.path || currentTab() === "write") return;
  const meta = await api("GET", `${base()}/metadata/${encodePath(shown.path)}`).catch(() => null);
  if (JSON.stringify(meta) !== JSON.stringify(shown.meta)) loadSecret(shown.path, currentTab());
}

const reloadMounts = mountPicker(mountSelect, "kv", async (picked) => {
  navigate({ mount: picked, path: null, version: null });
  await loadMountConfig();
  load();
});
document.getElementById("enable-mount").addEventListener("click", () =>
  enableMount("kv", async (path, type) => {
    if (type !== "kv") return void (window.location.href = `/vault/transit?mount=${encodeURIComponent(path)}`);
    navigate({ mount: path, path: null, version: null });
    await reloadMounts(path);
    await loadMountConfig();
    load();
  }),
);
document.getElementById("new-secret").addEventListener("click", newSecret);
document.getElementById("mount-settings").addEventListener("click", editMountConfig);
window.addEventListener("popstate", async () => {
  if (param("mount") && param("mount") !== mount()) {
    await reloadMounts(param("mount"));
    await loadMountConfig();
  }
  load();
});
connect({ service: "vault" });
subscribe({ type: "assay.vault.secret_*" }, onSecretEvent);
onResync(() => load());
loadMountConfig().then(load);
