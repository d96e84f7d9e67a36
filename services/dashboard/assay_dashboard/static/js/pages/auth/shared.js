// What several pages of the auth console show of one user: finding the user, their sessions,
// passkeys and API keys, with the administrator's actions on each (the `/api/v1/auth/users/{id}/…`
// routes).
import { api, attempt, query, renderProblem } from "../../api.js";
import { badge, confirmDialog, copyable, el, fill, formDialog, table, timeElement } from "../../dom.js";

export const USERS = "/api/v1/auth/users";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The path of a user's API route: `userPath(id, "sessions")` → /api/v1/auth/users/<id>/sessions. */
export function userPath(userId, ...rest) {
  return [USERS, encodeURIComponent(userId), ...rest.map(encodeURIComponent)].join("/");
}

/** Runs `load` (which fills a part of the page); an error it throws is shown above the page. */
export async function section(load) {
  try {
    await load();
  } catch (problem) {
    renderProblem(document.getElementById("page-error"), problem);
  }
}

/**
 * Pages of a list the API pages with a cursor (`next_cursor`): Previous goes back through the
 * cursors of the pages seen. `load()` reads `pages.cursor` and reports `pages.loaded(next_cursor)`.
 */
export function cursorPages(previousButton, nextButton, load) {
  let cursors = [null];
  let next = null;
  previousButton.addEventListener("click", () => {
    cursors.pop();
    load();
  });
  nextButton.addEventListener("click", () => {
    cursors.push(next);
    load();
  });
  return {
    get cursor() {
      return cursors[cursors.length - 1];
    },
    get number() {
      return cursors.length;
    },
    restart() {
      cursors = [null];
      return load();
    },
    loaded(nextCursor) {
      next = nextCursor || null;
      previousButton.disabled = cursors.length === 1;
      nextButton.disabled = !next;
    },
  };
}

/** A small button that runs `onClick`. */
export function actionButton(label, onClick, { danger = false } = {}) {
  return el("button", { type: "button", className: danger ? "button button-small button-danger" : "button button-small", on: { click: onClick } }, label);
}

/** The user's email as a link to their page. */
export function userLink(user) {
  return el("a", { href: `/auth/users/${encodeURIComponent(user.id)}`, text: user.email });
}

/** Scopes as chips, or "none". */
function scopeChips(scopes) {
  if (!scopes || !scopes.length) return el("span", { className: "muted", text: "none" });
  return el("span", { className: "chips" }, scopes.map((scope) => el("code", { className: "chip", text: scope })));
}

/** A value of a datetime-local input as an ISO time, or null when empty. */
export function isoTime(localValue) {
  return localValue ? new Date(localValue).toISOString() : null;
}

/** Runs `action` after the administrator confirms; reloads with `reload` when it succeeded. */
async function confirmed(dialog, action, success, reload) {
  if (!(await confirmDialog({ danger: true, ...dialog }))) return;
  const done = await attempt(action, { success });
  if (done !== undefined) await reload();
}

/**
 * The user `text` names: an id, an email, or a part of an email or name that only one user has.
 * Empty: the signed-in administrator. Throws an Error saying what matched otherwise.
 */
async function findUser(text) {
  const wanted = text.trim();
  if (!wanted) {
    const me = await api("GET", "/api/v1/auth/whoami");
    if (!me.user) throw new Error("Name a user: this session is not a user's.");
    return me.user;
  }
  if (UUID.test(wanted)) return api("GET", userPath(wanted));
  const found = await api("GET", `${USERS}${query({ search: wanted, limit: 20 })}`);
  const exact = found.items.find((user) => user.email.toLowerCase() === wanted.toLowerCase());
  if (exact) return exact;
  if (found.items.length === 1) return found.items[0];
  if (!found.items.length) throw new Error(`No user matches “${wanted}”.`);
  const emails = found.items.map((user) => user.email).join(", ");
  throw new Error(`${found.next_cursor ? "Many" : found.items.length} users match “${wanted}” (${emails}); give the whole email.`);
}

/**
 * The user filter of a page (`?user=`): a form with a text field; `show(user)` is called with the
 * user found, first for the address's `?user=` (or the administrator) and then on each submit.
 * When no single user matches, `root` is emptied, the reason shown above the page and `none()`
 * called, so that the page's actions stop pointing at the user shown before.
 */
export function userFilter({ form, input, summary, root, show, none }) {
  const error = document.getElementById("page-error");
  async function apply() {
    const text = input.value;
    const url = new URL(window.location.href);
    if (text.trim()) url.searchParams.set("user", text.trim());
    else url.searchParams.delete("user");
    history.replaceState(history.state, "", url.pathname + url.search);
    try {
      const user = await findUser(text);
      renderProblem(error, null);
      summary.replaceChildren("Showing ", userLink(user), user.display_name ? ` (${user.display_name})` : "", user.disabled ? " — disabled" : "");
      await show(user);
    } catch (problem) {
      summary.replaceChildren();
      fill(root);
      none();
      renderProblem(error, problem);
    }
  }
  input.value = new URLSearchParams(window.location.search).get("user") || "";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  apply();
}

// ---- sessions ----------------------------------------------------------------------------------

/**
 * The user's live sessions into `root`, each with Revoke; resolves to them. After a revocation
 * `reload` runs (default: show them again).
 */
export async function showSessions(userId, root, reload = () => showSessions(userId, root)) {
  const sessions = await api("GET", userPath(userId, "sessions"));
  const columns = [
    { label: "Session", value: (s) => el("code", { className: "auth-key", text: s.id }) },
    { label: "Signed in", value: (s) => timeElement(s.created_at) },
    { label: "Last used", value: (s) => timeElement(s.last_seen_at) },
    { label: "From", value: (s) => s.client_address },
    { label: "Browser", value: (s) => s.user_agent },
    { label: "Ends", value: (s) => timeElement(s.idle_expires_at) },
    {
      label: "Actions",
      className: "actions",
      value: (s) =>
        actionButton(
          "Revoke",
          () =>
            confirmed(
              { title: "Revoke this session?", message: "The browser or client using it must sign in again.", confirm: "Revoke" },
              () => api("DELETE", userPath(userId, "sessions", s.id)),
              "The session is revoked.",
              reload,
            ),
          { danger: true },
        ),
    },
  ];
  fill(root, table({ columns, rows: sessions.items, rowKey: (s) => s.id, empty: "No live sessions.", caption: `${sessions.items.length} live session${sessions.items.length === 1 ? "" : "s"}` }));
  return sessions.items;
}

/** Revokes every session of the user, after confirming. */
export function revokeAllSessions(userId, reload) {
  return confirmed(
    { title: "Revoke every session of this user?", message: "Every browser and client signed in as them must sign in again.", confirm: "Revoke all" },
    async () => {
      const revoked = await api("DELETE", userPath(userId, "sessions"));
      return revoked.revoked;
    },
    "Every session of the user is revoked.",
    reload,
  );
}

// ---- passkeys ----------------------------------------------------------------------------------

/** The user's passkeys into `root`, each with Delete. */
export async function showPasskeys(userId, root) {
  const reload = () => showPasskeys(userId, root);
  const passkeys = await api("GET", userPath(userId, "passkeys"));
  const columns = [
    { label: "Name", value: (p) => p.name },
    { label: "Credential", value: (p) => el("code", { className: "auth-key", text: p.credential_id }) },
    { label: "Transports", value: (p) => (p.transports || []).join(", ") },
    { label: "Synced", value: (p) => (p.device_type === "multi_device" ? "yes" : "no") },
    { label: "Signatures", className: "num", value: (p) => String(p.sign_count) },
    { label: "Added", value: (p) => timeElement(p.created_at) },
    { label: "Last used", value: (p) => timeElement(p.last_used_at) },
    {
      label: "Actions",
      className: "actions",
      value: (p) =>
        actionButton(
          "Delete",
          () =>
            confirmed(
              { title: `Delete the passkey “${p.name}”?`, message: "The user can no longer sign in with it.", confirm: "Delete" },
              () => api("DELETE", userPath(userId, "passkeys", p.id)),
              "The passkey is deleted.",
              reload,
            ),
          { danger: true },
        ),
    },
  ];
  fill(root, table({ columns, rows: passkeys.items, rowKey: (p) => p.id, empty: "No passkeys." }));
}

// ---- API keys ----------------------------------------------------------------------------------

/** The user's API keys into `root` (every page of them), each with Revoke. */
export async function showApiKeys(userId, root) {
  const reload = () => showApiKeys(userId, root);
  const keys = [];
  let cursor = null;
  do {
    const page = await api("GET", `${userPath(userId, "api-keys")}${query({ cursor, limit: 500 })}`);
    keys.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  const now = Date.now();
  const columns = [
    { label: "Name", value: (k) => k.name },
    { label: "Prefix", value: (k) => el("code", { text: k.prefix }) },
    { label: "Scopes", value: (k) => scopeChips(k.scopes) },
    { label: "Created", value: (k) => timeElement(k.created_at) },
    { label: "Last used", value: (k) => timeElement(k.last_used_at) },
    { label: "Expires", value: (k) => (!k.expires_at ? "never" : new Date(k.expires_at).getTime() < now ? badge("disabled", "expired") : timeElement(k.expires_at)) },
    {
      label: "Actions",
      className: "actions",
      value: (k) =>
        actionButton(
          "Revoke",
          () =>
            confirmed(
              { title: `Revoke the key “${k.name}”?`, message: "Whatever uses it stops working at once.", confirm: "Revoke" },
              () => api("DELETE", userPath(userId, "api-keys", k.id)),
              "The key is revoked.",
              reload,
            ),
          { danger: true },
        ),
    },
  ];
  fill(root, table({ columns, rows: keys, rowKey: (k) => k.id, empty: "No API keys." }));
}

/**
 * Asks for a new key of the user (name, scopes, expiry), creates it and shows its secret once in
 * `secretBox`, with a Copy button. Resolves true when a key was made.
 */
export async function createApiKey(user, secretBox) {
  let created = null;
  await formDialog({
    title: `New API key for ${user.email}`,
    confirm: "Create",
    fields: [
      { name: "name", label: "Name", required: true, placeholder: "deploy bot" },
      { name: "scopes", label: "Scopes", type: "textarea", placeholder: "namespace:payments#operate", hint: "One per line: what the key may use of the user's permissions (`*` for everything they may do). A key without scopes reaches nothing." },
      { name: "expires_at", label: "Expires", type: "datetime-local", hint: "Empty: never." },
    ],
    submit: async (values) => {
      const scopes = values.scopes.split(/\s+/).filter(Boolean);
      created = await api("POST", userPath(user.id, "api-keys"), { name: values.name, scopes, expires_at: isoTime(values.expires_at) });
    },
  });
  if (!created) return false;
  const done = el("button", { type: "button", className: "button button-small" }, "Done");
  done.addEventListener("click", () => {
    secretBox.hidden = true;
    secretBox.replaceChildren();
  });
  secretBox.replaceChildren(el("p", {}, el("strong", { text: `The key “${created.name}”: ` }), "copy it now, it is not shown again."), copyable(created.key), done);
  secretBox.hidden = false;
  return true;
}
