// Transit keys of one mount (`?mount=`, the key shown `?key=`): list, create, read, rotate,
// configure and delete them, and try one in a playground that encrypts and decrypts. The
// playground takes and shows text: it converts to and from the base64 the API speaks. Key events
// of the mount refresh the page.
import { api, attempt, renderProblem, toast } from "../../api.js";
import { badge, confirmDialog, copyable, el, fieldControl, fill, formDialog, table, timeElement } from "../../dom.js";
import { connect, onResync, subscribe } from "../../live.js";
import { base64ToText, enableMount, mountPicker, navigate, param, showProblem, stat, textToBase64 } from "./common.js";

const KEY_TYPES = ["aes256-gcm96", "aes128-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072", "rsa-4096", "hmac"];

const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const keysRoot = document.getElementById("keys");
const keyTitle = document.getElementById("key-title");
const mountSelect = document.getElementById("mount");

const mount = () => mountSelect.value;
const base = () => `/api/v1/vault/transit/${encodeURIComponent(mount())}`;
const keyPath = (name) => `${base()}/keys/${encodeURIComponent(name)}`;

function keyLink(name) {
  const anchor = el("a", { href: `?${new URLSearchParams({ mount: mount(), key: name })}`, text: name });
  if (name === param("key")) anchor.setAttribute("aria-current", "page");
  anchor.addEventListener("click", (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate({ key: name });
    load();
  });
  return anchor;
}

async function loadKeys() {
  keysRoot.setAttribute("aria-busy", "true");
  try {
    const { keys } = await api("GET", `${base()}/keys`);
    const details = await Promise.all(keys.map((name) => api("GET", keyPath(name)).catch(() => ({ name }))));
    const made = table({
      columns: [
        { label: "Name", value: (key) => keyLink(key.name) },
        { label: "Type", value: (key) => key.type },
        { label: "Latest", className: "num", value: (key) => (key.latest_version ? `v${key.latest_version}` : "") },
      ],
      rows: details,
      rowKey: (key) => key.name,
      empty: "No keys in this mount yet.",
    });
    made.querySelector(`tr[data-key="${CSS.escape(param("key"))}"]`)?.classList.add("selected");
    fill(keysRoot, made);
    return true;
  } catch (problem) {
    fill(keysRoot);
    showProblem(error, problem);
    return false;
  }
}

async function loadKey(name) {
  keyTitle.textContent = name;
  root.setAttribute("aria-busy", "true");
  try {
    const key = await api("GET", keyPath(name));
    fill(root, keyDetail(key));
  } catch (problem) {
    fill(root);
    showProblem(error, problem);
  }
}

function keyDetail(key) {
  const rotate = el("button", { type: "button", className: "button" }, "Rotate");
  rotate.addEventListener("click", async () => {
    const rotated = await attempt(() => api("POST", `${keyPath(key.name)}/rotate`));
    if (rotated) {
      toast(`${key.name} is now at version ${rotated.latest_version}`, "ok");
      load();
    }
  });
  const configure = el("button", { type: "button", className: "button" }, "Edit configuration");
  configure.addEventListener("click", () => editConfig(key));
  const remove = el("button", { type: "button", className: "button button-danger", disabled: !key.deletion_allowed, "aria-describedby": key.deletion_allowed ? null : "delete-hint" }, "Delete");
  remove.addEventListener("click", () => deleteKey(key));
  return el(
    "div",
    {},
    el(
      "div",
      { className: "card vault-stats" },
      stat("Type", key.type),
      stat("Latest version", key.latest_version),
      stat("Decrypts from version", key.min_decryption_version),
      stat("Encrypts with version", key.min_encryption_version ? `${key.min_encryption_version} or later` : "any (latest by default)"),
      stat("Derived", key.derived ? (key.convergent_encryption ? "yes, convergent" : "yes") : "no"),
      stat("Exportable", key.exportable ? "yes" : "no"),
      stat("Deletion allowed", key.deletion_allowed ? "yes" : "no"),
      stat("Rotates every", key.auto_rotate_period_seconds ? `${key.auto_rotate_period_seconds} s` : "never"),
      stat("Can", el("span", { className: "chips" }, ["encryption", "decryption", "derivation", "signing"].filter((what) => key[`supports_${what}`]).map((what) => el("span", { className: "chip", text: what })))),
    ),
    el("div", { className: "button-row vault-actions" }, rotate, configure, remove),
    key.deletion_allowed ? null : el("p", { id: "delete-hint", className: "hint", text: "Deleting needs “deletion allowed” in its configuration." }),
    el("h3", { text: "Versions" }),
    table({
      columns: [
        { label: "Version", className: "num", value: (v) => String(v.version) },
        { label: "Created", value: (v) => timeElement(v.created_time) },
        { label: "State", value: (v) => badge(v.version >= key.min_decryption_version ? "active" : "disabled", v.version === key.latest_version ? "latest" : v.version >= key.min_decryption_version ? "usable" : "too old") },
      ],
      rows: [...key.versions].reverse(),
      empty: "This key's versions are not listed (hmac keys).",
    }),
    key.supports_encryption && key.supports_decryption ? playgroundOf(key) : null,
  );
}

/** The playground shown, and for which key: a key shown again (its page reloaded by an event)
 * keeps its playground, with what was typed in it and the results shown. */
let shownPlayground = null;

function playgroundOf(key) {
  const shownFor = JSON.stringify([mount(), key.name, key.type, key.derived]);
  if (shownPlayground?.shownFor !== shownFor) shownPlayground = { shownFor, section: playground(key) };
  return shownPlayground.section;
}

function playground(key) {
  const contextHint = key.derived ? "Required: this key is derived, each context gives its own key." : "Only for derived keys.";
  const plaintext = fieldControl({ name: "plaintext", label: "Plaintext", type: "textarea", hint: "Text; sent as base64." });
  const encryptContext = fieldControl({ name: "context", label: "Encryption context", required: key.derived, hint: contextHint });
  const ciphertext = fieldControl({ name: "ciphertext", label: "Ciphertext", type: "textarea", placeholder: "vault:v1:…" });
  const decryptContext = fieldControl({ name: "context", label: "Decryption context", required: key.derived, hint: contextHint });
  for (const field of [encryptContext, decryptContext]) field.control.disabled = !key.derived;
  const encrypted = el("div", { id: "encrypt-result", className: "vault-result", "aria-live": "polite" });
  const decrypted = el("div", { id: "decrypt-result", className: "vault-result", "aria-live": "polite" });
  const context = (field) => (key.derived ? textToBase64(field.read()) : undefined);

  const encryptForm = el("form", { className: "form card", "aria-label": "Encrypt" }, el("h4", { text: "Encrypt" }), plaintext.wrapper, encryptContext.wrapper, el("div", { className: "button-row" }, el("button", { type: "submit", className: "button button-primary" }, "Encrypt")), encrypted);
  encryptForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await api("POST", `${base()}/encrypt/${encodeURIComponent(key.name)}`, { plaintext: textToBase64(plaintext.read()), context: context(encryptContext) });
      encrypted.replaceChildren(el("p", { className: "hint", text: `Ciphertext (key version ${answer.key_version}):` }), copyable(answer.ciphertext));
      ciphertext.control.value = answer.ciphertext;
      decryptContext.control.value = encryptContext.control.value;
    } catch (problem) {
      encrypted.replaceChildren(el("p", { className: "notice notice-error", text: problem.sentence || problem.message }));
    }
  });

  const decryptForm = el("form", { className: "form card", "aria-label": "Decrypt" }, el("h4", { text: "Decrypt" }), ciphertext.wrapper, decryptContext.wrapper, el("div", { className: "button-row" }, el("button", { type: "submit", className: "button button-primary" }, "Decrypt")), decrypted);
  decryptForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await api("POST", `${base()}/decrypt/${encodeURIComponent(key.name)}`, { ciphertext: ciphertext.read().trim(), context: context(decryptContext) });
      const text = base64ToText(answer.plaintext);
      decrypted.replaceChildren(
        el("p", { className: "hint", text: text === null ? "Plaintext (not text: shown as base64):" : "Plaintext:" }),
        el("pre", { className: "json vault-plaintext", tabindex: "0", text: text === null ? answer.plaintext : text }),
      );
    } catch (problem) {
      decrypted.replaceChildren(el("p", { className: "notice notice-error", text: problem.sentence || problem.message }));
    }
  });
  return el("section", { className: "section", "aria-labelledby": "playground-title" }, el("h3", { id: "playground-title", text: "Encrypt and decrypt" }), el("div", { className: "vault-playground" }, encryptForm, decryptForm));
}

async function createKey() {
  const values = await formDialog({
    title: "New key",
    confirm: "Create",
    fields: [
      { name: "name", label: "Name", required: true, hint: "Letters, digits, _, - and ." },
      { name: "type", label: "Type", type: "select", value: "aes256-gcm96", options: KEY_TYPES.map((type) => [type, type]) },
      { name: "derived", label: "Derived: a key per context", type: "checkbox" },
      { name: "convergent_encryption", label: "Convergent encryption (derived keys only)", type: "checkbox" },
      { name: "exportable", label: "Exportable (cannot be undone)", type: "checkbox" },
      { name: "allow_plaintext_backup", label: "Allow plaintext backup (cannot be undone)", type: "checkbox" },
      { name: "key_size", label: "Key size in bytes", type: "number", value: 0, hint: "hmac keys only (32–512); 0: 32." },
      { name: "auto_rotate_period_seconds", label: "Rotate every (seconds)", type: "number", value: 0, hint: "0: never; else at least 3600." },
    ],
    submit: (v) =>
      api("POST", keyPath(v.name.trim()), {
        type: v.type,
        derived: v.derived,
        convergent_encryption: v.convergent_encryption,
        exportable: v.exportable,
        allow_plaintext_backup: v.allow_plaintext_backup,
        key_size: v.key_size ?? 0,
        auto_rotate_period_seconds: v.auto_rotate_period_seconds ?? 0,
      }),
  });
  if (!values) return;
  toast(`Key ${values.name.trim()} created`, "ok");
  navigate({ key: values.name.trim() });
  load();
}

async function editConfig(key) {
  const saved = await formDialog({
    title: `Configuration of ${key.name}`,
    fields: [
      { name: "min_decryption_version", label: "Minimum decryption version", type: "number", value: key.min_decryption_version, hint: "Older ciphertexts are refused." },
      { name: "min_encryption_version", label: "Minimum encryption version", type: "number", value: key.min_encryption_version, hint: "0: any version." },
      { name: "deletion_allowed", label: "Deletion allowed", type: "checkbox", value: key.deletion_allowed },
      { name: "exportable", label: "Exportable (cannot be turned off)", type: "checkbox", value: key.exportable },
      { name: "auto_rotate_period_seconds", label: "Rotate every (seconds)", type: "number", value: key.auto_rotate_period_seconds, hint: "0: never; else at least 3600." },
    ],
    submit: (v) =>
      api("PATCH", `${keyPath(key.name)}/config`, {
        min_decryption_version: v.min_decryption_version ?? undefined,
        min_encryption_version: v.min_encryption_version ?? undefined,
        deletion_allowed: v.deletion_allowed,
        // Exportable can only be turned on: it is sent only then.
        exportable: v.exportable && !key.exportable ? true : undefined,
        auto_rotate_period_seconds: v.auto_rotate_period_seconds ?? undefined,
      }),
  });
  if (saved) {
    toast("Configuration saved", "ok");
    load();
  }
}

async function deleteKey(key) {
  const sure = await confirmDialog({
    title: `Delete ${key.name}?`,
    message: "Every version of the key is deleted for good: whatever it encrypted can never be decrypted again.",
    confirm: "Delete",
    danger: true,
  });
  if (!sure) return;
  if ((await attempt(() => api("DELETE", keyPath(key.name)), { success: `${key.name} deleted` })) === undefined) return;
  navigate({ key: null });
  load();
}

/** The keys and the key shown, as last rendered. */
let shownSnapshot = null;

async function snapshot() {
  const name = param("key");
  const [keys, key] = await Promise.all([api("GET", `${base()}/keys`).catch(() => null), name ? api("GET", keyPath(name)).catch(() => null) : null]);
  return JSON.stringify([mount(), keys, key]);
}

async function load() {
  shownSnapshot = await snapshot();
  renderProblem(error, null);
  const listed = await loadKeys();
  const name = param("key");
  if (name && listed) await loadKey(name);
  else {
    keyTitle.textContent = "Key";
    fill(root, el("p", { className: "empty", text: listed ? "Choose a key, or make a new one." : "" }));
  }
}

const reloadMounts = mountPicker(mountSelect, "transit", (picked) => {
  navigate({ mount: picked, key: null });
  load();
});
document.getElementById("enable-mount").addEventListener("click", () =>
  enableMount("transit", async (path, type) => {
    if (type !== "transit") return void (window.location.href = `/vault/kv?mount=${encodeURIComponent(path)}`);
    navigate({ mount: path, key: null });
    await reloadMounts(path);
    load();
  }),
);
document.getElementById("new-key").addEventListener("click", createKey);
window.addEventListener("popstate", async () => {
  if (param("mount") && param("mount") !== mount()) await reloadMounts(param("mount"));
  load();
});
connect({ service: "vault" });
// A key event of this mount reloads the page when the keys differ from those shown: the page's own
// changes are shown already, and the playground keeps what was typed in it.
subscribe({ type: "assay.vault.transit_key_*" }, async (event) => {
  if (!event.data || event.data.mount !== mount()) return;
  if ((await snapshot()) !== shownSnapshot) load();
});
onResync(() => load());
load();
