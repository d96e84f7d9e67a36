// The audit log: newest first, fifty a page, filtered by action, service, actor, target and time
// (kept in the address: `?action=…&since=…`); each record opens to its whole JSON.
import { api, query, renderProblem } from "../../api.js";
import { el, fill, prettyJson, table, timeElement } from "../../dom.js";
import { cursorPages, isoTime } from "./shared.js";

const LIMIT = 50;
const FILTERS = ["action", "service", "actor", "target", "since", "until"];
const form = document.getElementById("audit-filters");
const root = document.getElementById("page-root");
const error = document.getElementById("page-error");

/** "user 01a2…" : a kind and an id; the id may break anywhere, so long ids do not widen the table. */
function named(kind, id) {
  return el("span", {}, kind ? `${kind} ` : "", id ? el("code", { className: "auth-key", text: id }) : null);
}

const columns = [
  { label: "Time", className: "nowrap", value: (r) => timeElement(r.time) },
  { label: "Action", value: (r) => el("code", { text: r.action }) },
  { label: "Service", value: (r) => r.service },
  { label: "Actor", value: (r) => named(r.actor_kind, r.actor_id) },
  { label: "Target", value: (r) => (r.target_id ? named(r.target_type, r.target_id) : null) },
  { label: "Record", value: (r) => el("details", { className: "auth-record" }, el("summary", { text: "JSON" }), prettyJson(r)) },
];
const pages = cursorPages(document.getElementById("previous-page"), document.getElementById("next-page"), load);

function filters() {
  const values = Object.fromEntries(FILTERS.map((name) => [name, form.elements[name].value.trim()]));
  return { ...values, since: isoTime(values.since), until: isoTime(values.until) };
}

function keepInAddress() {
  const url = new URL(window.location.href);
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (value) url.searchParams.set(name, value);
    else url.searchParams.delete(name);
  }
  history.replaceState(history.state, "", url.pathname + url.search);
}

async function load() {
  root.setAttribute("aria-busy", "true");
  try {
    const page = await api("GET", `/api/v1/auth/audit${query({ ...filters(), cursor: pages.cursor, limit: LIMIT })}`);
    renderProblem(error, null);
    pages.loaded(page.next_cursor);
    fill(root, table({ columns, rows: page.items, rowKey: (r) => r.id, empty: "No audit records match.", caption: `Page ${pages.number}, newest first` }));
  } catch (problem) {
    pages.loaded(null);
    fill(root);
    renderProblem(error, problem);
  }
}

function restart() {
  keepInAddress();
  pages.restart();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  restart();
});
// A reset clears the fields after this event; reload once they are empty.
form.addEventListener("reset", () => setTimeout(restart));
load();
