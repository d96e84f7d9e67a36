// One user: what they are, editing email, name and verification, disabling or enabling them,
// setting their password, deleting them; their sessions, passkeys and API keys.
import { api, attempt, toast } from "../../api.js";
import { badge, confirmDialog, el, fill, formDialog, timeElement } from "../../dom.js";
import { createApiKey, revokeAllSessions, showApiKeys, showPasskeys, section, showSessions, userPath } from "./shared.js";

const userId = document.getElementById("user-page").dataset.userId;
const facts = document.getElementById("user-facts");
const profile = document.getElementById("profile");
const emailInput = document.getElementById("profile-email");
const nameInput = document.getElementById("profile-name");
const verifiedInput = document.getElementById("profile-verified");
const toggleButton = document.getElementById("toggle-disabled");
const resetButton = document.getElementById("reset-password");
const deleteButton = document.getElementById("delete-user");
let user = null;

function stat(label, value) {
  return el("div", { className: "stat" }, el("span", { className: "stat-label", text: label }), el("span", { className: "stat-value" }, value));
}

function showUser(found) {
  user = found;
  document.getElementById("user-heading").textContent = found.display_name ? `${found.display_name} (${found.email})` : found.email;
  document.title = `${found.email} · ${document.title.split(" · ").slice(1).join(" · ")}`;
  fill(
    facts,
    el(
      "div",
      { className: "card" },
      stat("Id", el("code", { text: found.id })),
      stat("State", found.disabled ? badge("disabled", "disabled") : badge("active", "active")),
      stat("Role", found.is_admin ? badge("info", "administrator") : "user"),
      stat("Password", found.has_password ? "set" : "none"),
      stat("Created", timeElement(found.created_at)),
      stat("Updated", timeElement(found.updated_at)),
    ),
  );
  emailInput.value = found.email;
  nameInput.value = found.display_name;
  verifiedInput.checked = found.email_verified;
  profile.hidden = false;
  toggleButton.textContent = found.disabled ? "Enable" : "Disable";
  for (const button of [toggleButton, resetButton, deleteButton]) button.disabled = false;
}

const loadUser = async () => showUser(await api("GET", userPath(userId)));
const loadSessions = () => showSessions(userId, document.getElementById("sessions"));
const loadPasskeys = () => showPasskeys(userId, document.getElementById("passkeys"));
const loadKeys = () => showApiKeys(userId, document.getElementById("api-keys"));

profile.addEventListener("submit", async (event) => {
  event.preventDefault();
  const changes = {};
  if (emailInput.value.trim() !== user.email) changes.email = emailInput.value.trim();
  if (nameInput.value !== user.display_name) changes.display_name = nameInput.value;
  // A new email is unverified unless the box says otherwise: send the box whenever the email changes.
  if (verifiedInput.checked !== user.email_verified || changes.email) changes.email_verified = verifiedInput.checked;
  if (!Object.keys(changes).length) {
    toast("Nothing changed.");
    return;
  }
  const saved = await attempt(() => api("PATCH", userPath(userId), changes), { success: "The user is saved." });
  if (saved) showUser(saved);
});

toggleButton.addEventListener("click", async () => {
  const disabling = !user.disabled;
  if (disabling && !(await confirmDialog({ title: `Disable ${user.email}?`, message: "They cannot sign in, their sessions end and their API keys stop working until they are enabled again.", confirm: "Disable", danger: true }))) return;
  const changed = await attempt(() => api("POST", userPath(userId, disabling ? "disable" : "enable")), { success: disabling ? "The user is disabled." : "The user is enabled." });
  if (changed) {
    showUser(changed);
    section(loadSessions);
  }
});

resetButton.addEventListener("click", async () => {
  const values = await formDialog({
    title: `Set the password of ${user.email}`,
    confirm: "Set password",
    danger: true,
    fields: [{ name: "password", label: "New password", type: "password", autocomplete: "new-password", required: true, hint: "Every session of the user ends." }],
    submit: (entered) => api("POST", userPath(userId, "password"), { password: entered.password }),
  });
  if (!values) return;
  toast("The password is set.", "ok");
  section(loadUser);
  section(loadSessions);
});

deleteButton.addEventListener("click", async () => {
  if (!(await confirmDialog({ title: `Delete ${user.email}?`, message: "The user, their sessions, passkeys and API keys are deleted. This cannot be undone.", confirm: "Delete", danger: true }))) return;
  const deleted = await attempt(() => api("DELETE", userPath(userId)));
  if (deleted !== undefined) window.location.assign("/auth/users");
});

document.getElementById("revoke-all").addEventListener("click", () => revokeAllSessions(userId, () => section(loadSessions)));
document.getElementById("new-key").addEventListener("click", async () => {
  if (user && (await createApiKey(user, document.getElementById("new-key-secret")))) section(loadKeys);
});

section(loadUser).then(() => {
  if (!user) fill(facts);
});
for (const load of [loadSessions, loadPasskeys, loadKeys]) section(load);
