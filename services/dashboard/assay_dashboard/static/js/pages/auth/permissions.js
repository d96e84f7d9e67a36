// Permissions of one store (`?store=`, default `platform`): edit its schema (a refused schema is
// explained beside the editor, at its line), browse, write and delete relationships, and ask
// check and expand questions. Every write's zookie is kept, so reads here see the writes made here.
import { ApiError, api, attempt, query, renderProblem } from "../../api.js";
import { badge, confirmDialog, el, fill, setQueryParam, table } from "../../dom.js";
import { actionButton, cursorPages } from "./shared.js";

const PLATFORM = "platform";
const error = document.getElementById("page-error");
const storeInput = document.getElementById("store");
const schemaForm = document.getElementById("schema-form");
const schemaText = document.getElementById("schema");
const schemaState = document.getElementById("schema-state");
const schemaProblem = document.getElementById("schema-problem");
const filterForm = document.getElementById("relationship-filter");
const writeForm = document.getElementById("relationship-write");
const relationshipsRoot = document.getElementById("relationships");
const checkForm = document.getElementById("check-form");
const checkResult = document.getElementById("check-result");
const expandForm = document.getElementById("expand-form");
const expandResult = document.getElementById("expand-result");
const zookieInput = document.getElementById("check-zookie");

let store = storeInput.value.trim() || PLATFORM;
// The zookie of the last write made on this page.
let lastWrite = null;

function base() {
  return store === PLATFORM ? "/api/v1/auth/permissions" : `/api/v1/auth/permissions/stores/${encodeURIComponent(store)}`;
}

function remember(zookie) {
  lastWrite = zookie;
  zookieInput.value = zookie;
}

function values(form) {
  return Object.fromEntries([...new FormData(form)].map(([name, value]) => [name, String(value).trim()]));
}

// ---- schema ------------------------------------------------------------------------------------

function showSchemaState(found) {
  schemaState.replaceChildren(
    found
      ? el("span", {}, `Version ${found.version}, in effect since revision `, el("code", { text: found.written_at }), found.created_by ? `, written by ${found.created_by}` : "", ".")
      : `The store “${store}” has no schema yet: write one to start it.`,
  );
}

function clearSchemaProblem() {
  schemaProblem.replaceChildren();
  schemaText.removeAttribute("aria-invalid");
}

/** Puts the caret at `line`:`column` (1-based) of the editor, where the schema went wrong. */
function caretAt(line, column) {
  const lines = schemaText.value.split("\n");
  const before = lines.slice(0, line - 1).reduce((total, text) => total + text.length + 1, 0);
  const offset = Math.min(schemaText.value.length, before + Math.max(0, column - 1));
  schemaText.focus();
  schemaText.setSelectionRange(offset, offset);
}

function explainSchemaProblem(problem) {
  schemaText.setAttribute("aria-invalid", "true");
  const details = problem instanceof ApiError ? problem.problem : {};
  const children = [el("p", {}, el("strong", { text: problem instanceof ApiError ? problem.title || "The schema was refused" : "The schema was refused" }))];
  children.push(el("p", { text: problem instanceof ApiError ? problem.detail || problem.sentence : String(problem.message || problem) }));
  if (Number.isInteger(details.line)) {
    const column = Number.isInteger(details.column) ? details.column : 1;
    children.push(el("p", {}, `At line ${details.line}, column ${column}. `, el("button", { type: "button", className: "link-button", on: { click: () => caretAt(details.line, column) } }, "Go to the line")));
  }
  if (Array.isArray(details.orphaned) && details.orphaned.length) {
    children.push(
      el("p", {}, "Relationships of these kinds would lose their meaning: ", el("span", { className: "chips" }, details.orphaned.map((kind) => el("code", { className: "chip", text: kind })))),
      el("p", {}, actionButton("Save and delete those relationships", () => saveSchema(true), { danger: true })),
    );
  }
  schemaProblem.replaceChildren(el("div", { className: "notice notice-error" }, children));
}

async function loadSchema() {
  clearSchemaProblem();
  try {
    const found = await api("GET", `${base()}/schema`);
    schemaText.value = found.schema;
    showSchemaState(found);
  } catch (problem) {
    if (!(problem instanceof ApiError && problem.status === 404)) throw problem;
    schemaText.value = "";
    showSchemaState(null);
  }
}

async function saveSchema(force = false) {
  if (force && !(await confirmDialog({ title: "Delete the relationships the schema no longer allows?", message: "They are deleted in the same revision as the schema is written. This cannot be undone.", confirm: "Save and delete", danger: true }))) return;
  clearSchemaProblem();
  try {
    const written = await api("PUT", `${base()}/schema`, { schema: schemaText.value, force });
    remember(written.written_at);
    showSchemaState(written);
    schemaState.prepend(el("strong", { text: "Saved. " }));
    loadRelationships();
  } catch (problem) {
    explainSchemaProblem(problem);
  }
}

// ---- relationships -----------------------------------------------------------------------------

const relationshipColumns = [
  { label: "Resource", value: (r) => el("code", { className: "auth-key", text: `${r.resource_type}:${r.resource_id}` }) },
  { label: "Relation", value: (r) => el("code", { text: r.relation }) },
  { label: "Subject", value: (r) => el("code", { className: "auth-key", text: `${r.subject_type}:${r.subject_id}${r.subject_relation ? `#${r.subject_relation}` : ""}` }) },
  {
    label: "Actions",
    className: "actions",
    value: (r) => actionButton("Delete", () => deleteRelationship(r), { danger: true }),
  },
];
const pages = cursorPages(document.getElementById("previous-page"), document.getElementById("next-page"), loadRelationships);

async function loadRelationships() {
  relationshipsRoot.setAttribute("aria-busy", "true");
  const consistency = lastWrite ? { consistency: "at_least_as_fresh", zookie: lastWrite } : {};
  try {
    const page = await api("GET", `${base()}/relationships${query({ ...values(filterForm), ...consistency, cursor: pages.cursor, limit: 50 })}`);
    pages.loaded(page.next_cursor);
    fill(
      relationshipsRoot,
      table({ columns: relationshipColumns, rows: page.items, rowKey: (r) => r.relationship, empty: "No relationships match.", caption: `Page ${pages.number}, read at revision ${page.read_at}` }),
    );
  } catch (problem) {
    pages.loaded(null);
    fill(relationshipsRoot);
    renderProblem(error, problem);
  }
}

async function write(operation, relationship, success) {
  const written = await attempt(() => api("POST", `${base()}/relationships`, { updates: [{ operation, relationship }] }), { success });
  if (!written) return false;
  remember(written.written_at);
  await pages.restart();
  return true;
}

async function deleteRelationship(r) {
  if (!(await confirmDialog({ title: "Delete this relationship?", message: r.relationship, confirm: "Delete", danger: true }))) return;
  await write("delete", r.relationship, "The relationship is deleted.");
}

// ---- check and expand --------------------------------------------------------------------------

function consistency(mode, zookie) {
  return mode === "at_least_as_fresh" ? { mode, zookie: zookie || lastWrite } : { mode };
}

async function check(event) {
  event.preventDefault();
  const asked = values(checkForm);
  checkResult.replaceChildren();
  try {
    const answer = await api("POST", `${base()}/check`, { resource: asked.resource, permission: asked.permission, subject: asked.subject, consistency: consistency(asked.consistency, asked.zookie) });
    checkResult.replaceChildren(
      el(
        "div",
        { className: `notice ${answer.allowed ? "notice-ok" : "notice-warn"}` },
        el("p", {}, answer.allowed ? badge("ok", "allowed") : badge("bad", "denied"), " ", el("code", { text: asked.subject }), answer.allowed ? " has " : " does not have ", el("code", { text: asked.permission }), " on ", el("code", { text: asked.resource }), "."),
        el("p", { className: "hint" }, "Answered at revision ", el("code", { text: answer.checked_at }), ` (${asked.consistency.replace(/_/g, " ")}).`),
      ),
    );
  } catch (problem) {
    renderProblem(checkResult, problem);
    checkResult.hidden = false;
  }
}

/** One node of an expand tree as a list item, its children nested below it. */
function treeNode(node) {
  const label = el("span", { className: "auth-tree-node" }, badge(node.kind === "leaf" ? "info" : "muted", node.kind), " ", el("code", { text: `${node.resource}#${node.relation}` }), node.target ? el("span", {}, " → ", el("code", { text: node.target })) : null);
  const item = el("li", {}, label);
  if (node.kind === "leaf") {
    const subjects = node.subjects || [];
    item.append(subjects.length ? el("ul", {}, subjects.map((subject) => el("li", {}, el("code", { className: "auth-subject", text: subject })))) : el("span", { className: "muted", text: " no subjects" }));
  } else if (node.children && node.children.length) {
    item.append(el("ul", {}, node.children.map(treeNode)));
  }
  return item;
}

async function expand(event) {
  event.preventDefault();
  const asked = values(expandForm);
  expandResult.replaceChildren();
  try {
    const answer = await api("POST", `${base()}/expand`, { resource: asked.resource, permission: asked.permission, consistency: consistency(lastWrite ? "at_least_as_fresh" : "fully_consistent") });
    expandResult.replaceChildren(
      el("ul", { className: "auth-tree", "aria-label": `Expansion of ${asked.resource}#${asked.permission}` }, treeNode(answer.tree)),
      el("p", { className: "hint" }, "Expanded at revision ", el("code", { text: answer.expanded_at }), ". Usersets in leaves are not expanded further."),
    );
  } catch (problem) {
    renderProblem(expandResult, problem);
    expandResult.hidden = false;
  }
}

// ---- wiring ------------------------------------------------------------------------------------

function openStore() {
  renderProblem(error, null);
  loadSchema().catch((problem) => renderProblem(error, problem));
  pages.restart();
}

document.getElementById("store-form").addEventListener("submit", (event) => {
  event.preventDefault();
  store = storeInput.value.trim() || PLATFORM;
  setQueryParam("store", store === PLATFORM ? "" : store);
  lastWrite = null;
  zookieInput.value = "";
  checkResult.replaceChildren();
  expandResult.replaceChildren();
  openStore();
});
schemaForm.addEventListener("submit", (event) => {
  event.preventDefault();
  saveSchema(false);
});
schemaText.addEventListener("input", () => schemaText.removeAttribute("aria-invalid"));
document.getElementById("reload-schema").addEventListener("click", () => loadSchema().catch((problem) => renderProblem(error, problem)));
filterForm.addEventListener("submit", (event) => {
  event.preventDefault();
  pages.restart();
});
writeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const { operation, relationship } = values(writeForm);
  const done = await write(operation, relationship, operation === "delete" ? "The relationship is deleted." : "The relationship is written.");
  if (done) writeForm.elements.relationship.value = "";
});
checkForm.addEventListener("submit", check);
expandForm.addEventListener("submit", expand);
openStore();
