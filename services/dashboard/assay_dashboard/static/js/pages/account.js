// The signed-in user's own account: profile, password, sessions, passkeys and API keys.
import { api, attempt, renderProblem } from "../api.js";
import { badge, confirmDialog, copyable, el, fill, formDialog, table, timeElement } from "../dom.js";
import { createCredential, passkeysSupported } from "../webauthn.js";

const error = document.getElementById("page-error");

function stat(label, value) {
  return el("div", { className: "stat" }, el("span", { className: "stat-label", text: label }), el("span", { className: "stat-value" }, value));
}

async function loadProfile() {
  const me = await api("GET", "/api/v1/auth/whoami");
  const user = me.user;
  const cards = user
    ? [stat("Email", user.email), stat("Name", user.display_name || "—"), stat("Role", user.is_admin ? badge("info", "administrator") : "user"), stat("Member since", timeElement(user.created_at))]
    : [stat("Signed in as", `${me.principal.kind} ${me.principal.id}`)];
  fill(document.getElementById("profile"), el("div", { className: "card" }, cards));
}

function revokeButton(label, onClick) {
  return el("button", { type: "button", className: "button button-small", on: { click: onClick } }, label);
}

async function loadSessions() {
  const sessions = await api("GET", "/api/v1/auth/sessions");
  const columns = [
    { label: "Signed in", value: (s) => timeElement(s.created_at) },
    { label: "Last used", value: (s) => timeElement(s.last_seen_at) },
    { label: "From", value: (s) => s.client_address },
    { label: "Browser", value: (s) => s.user_agent },
    { label: "Ends", value: (s) => timeElement(s.idle_expires_at) },
    {
      label: "",
      className: "actions",
      value: (s) =>
        s.current
          ? badge("live", "this session")
          : revokeButton("Sign out", async () => {
              if (!(await confirmDialog({ title: "Sign this session out?", message: "The browser using it must sign in again.", confirm: "Sign out", danger: true }))) return;
              await attempt(() => api("DELETE", `/api/v1/auth/sessions/${s.id}`), { success: "The session is signed out." });
              refresh(loadSessions);
            }),
    },
  ];
  fill(document.getElementById("sessions"), table({ columns, rows: sessions.items, empty: "No sessions." }));
}

async function loadPasskeys() {
  const passkeys = await api("GET", "/api/v1/auth/passkeys");
  const columns = [
    { label: "Name", value: (p) => p.name },
    { label: "Synced", value: (p) => (p.device_type === "multi_device" ? "yes" : "no") },
    { label: "Added", value: (p) => timeElement(p.created_at) },
    { label: "Last used", value: (p) => timeElement(p.last_used_at) },
    {
      label: "",
      className: "actions",
      value: (p) =>
        revokeButton("Delete", async () => {
          if (!(await confirmDialog({ title: `Delete the passkey “${p.name}”?`, message: "You can no longer sign in with it.", confirm: "Delete", danger: true }))) return;
          await attempt(() => api("DELETE", `/api/v1/auth/passkeys/${p.id}`), { success: "The passkey is deleted." });
          refresh(loadPasskeys);
        }),
    },
  ];
  fill(document.getElementById("passkeys"), table({ columns, rows: passkeys.items, empty: "No passkeys yet." }));
}

async function addPasskey() {
  const values = await formDialog({ title: "Add a passkey", confirm: "Continue", fields: [{ name: "name", label: "Name", value: "Passkey", required: true, hint: "To tell your passkeys apart, e.g. “Work laptop”." }] });
  if (!values) return;
  await attempt(
    async () => {
      const options = await api("POST", "/api/v1/auth/passkeys/registration/options");
      const credential = await createCredential(options);
      await api("POST", "/api/v1/auth/passkeys/registration", { credential, name: values.name });
    },
    { success: "The passkey is added." },
  );
  refresh(loadPasskeys);
}

async function loadKeys() {
  const keys = await api("GET", "/api/v1/auth/api-keys");
  const columns = [
    { label: "Name", value: (k) => k.name },
    { label: "Prefix", value: (k) => el("code", { text: k.prefix }) },
    { label: "Scopes", value: (k) => (k.scopes.length ? el("span", { className: "chips" }, k.scopes.map((s) => el("code", { className: "chip", text: s }))) : el("span", { className: "muted", text: "none" })) },
    { label: "Created", value: (k) => timeElement(k.created_at) },
    { label: "Last used", value: (k) => timeElement(k.last_used_at) },
    { label: "Expires", value: (k) => (k.expires_at ? timeElement(k.expires_at) : "never") },
    {
      label: "",
      className: "actions",
      value: (k) =>
        revokeButton("Revoke", async () => {
          if (!(await confirmDialog({ title: `Revoke the key “${k.name}”?`, message: "Whatever uses it stops working at once.", confirm: "Revoke", danger: true }))) return;
          await attempt(() => api("DELETE", `/api/v1/auth/api-keys/${k.id}`), { success: "The key is revoked." });
          refresh(loadKeys);
        }),
    },
  ];
  fill(document.getElementById("api-keys"), table({ columns, rows: keys.items, empty: "No API keys." }));
}

async function newKey() {
  let created = null;
  await formDialog({
    title: "New API key",
    confirm: "Create",
    fields: [
      { name: "name", label: "Name", required: true, placeholder: "deploy bot" },
      { name: "scopes", label: "Scopes", type: "textarea", placeholder: "namespace:payments#operate", hint: "One per line: what the key may use of your permissions (`*` for everything you may do, `admin` for administration). A key without scopes reaches nothing." },
      { name: "expires_at", label: "Expires", type: "datetime-local", hint: "Empty: never." },
    ],
    submit: async (values) => {
      const scopes = values.scopes.split(/\s+/).filter(Boolean);
      const expires = values.expires_at ? new Date(values.expires_at).toISOString() : null;
      created = await api("POST", "/api/v1/auth/api-keys", { name: values.name, scopes, expires_at: expires });
    },
  });
  if (!created) return;
  const box = document.getElementById("new-key-secret");
  box.replaceChildren(el("p", {}, el("strong", { text: `The key “${created.name}”: ` }), "copy it now, it is not shown again."), copyable(created.key), el("button", { type: "button", className: "button button-small", on: { click: () => { box.hidden = true; box.replaceChildren(); } } }, "Done"));
  box.hidden = false;
  refresh(loadKeys);
}

async function changePassword(event) {
  event.preventDefault();
  const current = document.getElementById("current-password");
  const changed = document.getElementById("changed-password");
  const done = await attempt(() => api("POST", "/api/v1/auth/password", { current_password: current.value, new_password: changed.value }), { success: "Your password is changed." });
  if (done !== undefined) {
    current.value = "";
    changed.value = "";
  }
}

async function refresh(load) {
  try {
    await load();
  } catch (problem) {
    renderProblem(error, problem);
  }
}

document.getElementById("change-password").addEventListener("submit", changePassword);
document.getElementById("new-key").addEventListener("click", newKey);
const addButton = document.getElementById("add-passkey");
if (passkeysSupported()) addButton.addEventListener("click", addPasskey);
else {
  addButton.disabled = true;
  addButton.title = "This browser cannot use passkeys";
}
for (const load of [loadProfile, loadSessions, loadPasskeys, loadKeys]) refresh(load);
