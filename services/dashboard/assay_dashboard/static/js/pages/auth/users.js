// Users: newest first, fifty a page (the API pages with a cursor; the cursors of the pages seen
// are kept so Previous goes back), searched by email or name (`?search=`), and a new user.
import { api, query, renderProblem, toast } from "../../api.js";
import { badge, fill, formDialog, setQueryParam, table, timeElement } from "../../dom.js";
import { USERS, cursorPages, userLink } from "./shared.js";

const LIMIT = 50;
const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const searchInput = document.getElementById("search");

const columns = [
  { label: "Email", value: (u) => userLink(u) },
  { label: "Name", value: (u) => u.display_name },
  { label: "Verified", value: (u) => (u.email_verified ? badge("ok", "verified") : badge("muted", "not verified")) },
  { label: "Role", value: (u) => (u.is_admin ? badge("info", "administrator") : "user") },
  { label: "State", value: (u) => (u.disabled ? badge("disabled", "disabled") : badge("active", "active")) },
  { label: "Created", value: (u) => timeElement(u.created_at) },
];
const pages = cursorPages(document.getElementById("previous-page"), document.getElementById("next-page"), load);

async function load() {
  const search = searchInput.value.trim();
  root.setAttribute("aria-busy", "true");
  try {
    const page = await api("GET", `${USERS}${query({ search, cursor: pages.cursor, limit: LIMIT })}`);
    renderProblem(error, null);
    pages.loaded(page.next_cursor);
    const empty = search ? `No user matches “${search}”.` : "No users.";
    fill(root, table({ columns, rows: page.items, rowKey: (u) => u.id, empty, caption: `Page ${pages.number}` }));
  } catch (problem) {
    pages.loaded(null);
    fill(root);
    renderProblem(error, problem);
  }
}

async function newUser() {
  let created = null;
  await formDialog({
    title: "New user",
    confirm: "Create",
    fields: [
      { name: "email", label: "Email", type: "email", required: true },
      { name: "display_name", label: "Display name" },
      { name: "email_verified", label: "Email verified", type: "checkbox" },
      { name: "is_admin", label: "Administrator", type: "checkbox" },
      { name: "password", label: "Password", type: "password", autocomplete: "new-password", hint: "Optional: without one the user signs in once a password is set (reset) or with a passkey." },
    ],
    submit: async (values) => {
      created = await api("POST", USERS, { ...values, password: values.password || null });
    },
  });
  if (!created) return;
  toast(`The user ${created.email} is created.`, "ok");
  await pages.restart();
}

document.getElementById("user-search").addEventListener("submit", (event) => {
  event.preventDefault();
  setQueryParam("search", searchInput.value.trim());
  pages.restart();
});
document.getElementById("new-user").addEventListener("click", newUser);
load();
