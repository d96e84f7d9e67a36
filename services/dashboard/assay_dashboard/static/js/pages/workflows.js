// Workflow runs of a namespace, newest first. The filters live in the URL (`?namespace=&status=
// &q=&workflow_type=&task_queue=&search_attributes=&cursor=`), so a reload or a shared link shows
// the same view; the cursors of the pages before are kept in the history entry for "Previous".
// Live events of the namespace replace the row of their run, or add a new run at the top of the
// first page when it matches the filters; the rest of the table is left as it is.
import { api, query, renderProblem, toast } from "../api.js";
import { badge, el, fill, setQueryParam, table, timeElement, updateRow } from "../dom.js";
import { connect, onResync, subscribe } from "../live.js";
import { namespaceSelect, readJson, runActions, runLink } from "./workflows/common.js";

const LIMIT = 25;
const FILTERS = ["status", "q", "workflow_type", "task_queue", "search_attributes"];
const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const form = document.getElementById("filters");
const namespaceChoice = document.getElementById("namespace");
const previousButton = document.getElementById("previous-page");
const nextButton = document.getElementById("next-page");
const attributesFilter = document.getElementById("search_attributes");

const columns = [
  { label: "Workflow", value: (run) => runLink(run) },
  { label: "Type", value: (run) => run.workflow_type },
  { label: "Status", value: (run) => badge(run.status) },
  { label: "Queue", value: (run) => run.task_queue },
  { label: "Started", value: (run) => timeElement(run.created_at), className: "nowrap" },
  { label: "Closed", value: (run) => timeElement(run.closed_at), className: "nowrap" },
  { label: "Actions", value: (run) => el("span", { className: "button-row wf-row-actions" }, runActions(run, refreshRow)), className: "actions" },
];
const rowKey = (run) => run.run_id;
let body = null;
let nextCursor = null;
// When each shown run was last updated: an answer older than the row shown is dropped.
const shownAt = new Map();

function namespace() {
  return namespaceChoice.value;
}

/** The filters' values, with the search attributes parsed (`attributes`); throws when those are
 * not a JSON object. */
function filters() {
  const values = Object.fromEntries(FILTERS.map((name) => [name, form.elements[name].value.trim()]));
  return { ...values, attributes: readJson(attributesFilter, "Search attributes", { object: true }) };
}

function cursors() {
  return (history.state && history.state.cursors) || [];
}

function setCursors(stack, cursor) {
  setQueryParam("cursor", cursor);
  history.replaceState({ ...(history.state || {}), cursors: stack }, "", window.location.href);
}

async function loadRuns() {
  let wanted;
  try {
    wanted = filters();
  } catch (problem) {
    renderProblem(error, problem);
    return;
  }
  const cursor = new URLSearchParams(window.location.search).get("cursor") || "";
  root.setAttribute("aria-busy", "true");
  try {
    const { attributes, ...given } = wanted;
    const search = { ...given, search_attributes: attributes ? JSON.stringify(attributes) : "" };
    const page = await api("GET", `/api/v1/workflows${query({ namespace: namespace(), ...search, cursor, limit: LIMIT })}`);
    renderProblem(error, null);
    shownAt.clear();
    for (const run of page.items) shownAt.set(run.run_id, run.updated_at);
    const made = table({ columns, rows: page.items, rowKey, caption: `Runs in ${namespace()}, newest first`, empty: "No workflow runs match." });
    body = made.querySelector("tbody");
    nextCursor = page.next_cursor;
    fill(root, made);
  } catch (problem) {
    body = null;
    nextCursor = null;
    fill(root);
    renderProblem(error, problem);
  }
  nextButton.disabled = !nextCursor;
  previousButton.disabled = !cursor;
}

/** Puts the filters in the URL, back on the first page, and lists again. */
function applyFilters() {
  for (const name of FILTERS) setQueryParam(name, form.elements[name].value.trim());
  setCursors([], "");
  loadRuns();
}

function matches(run, wanted) {
  if (run.namespace !== namespace()) return false;
  if (wanted.status && run.status !== wanted.status) return false;
  if (wanted.workflow_type && run.workflow_type !== wanted.workflow_type) return false;
  if (wanted.task_queue && run.task_queue !== wanted.task_queue) return false;
  const needle = wanted.q.toLowerCase();
  if (needle && !run.workflow_id.toLowerCase().includes(needle) && !run.workflow_type.toLowerCase().includes(needle)) return false;
  const attributes = run.search_attributes || {};
  return Object.entries(wanted.attributes || {}).every(([key, value]) => JSON.stringify(attributes[key]) === JSON.stringify(value));
}

/** Shows the run as it is now: its row replaced, or (first page only) added at the top. */
async function showRun(workflowId, runId) {
  if (!body) return;
  let run;
  try {
    run = await api("GET", `/api/v1/workflows/${encodeURIComponent(workflowId)}${query({ namespace: namespace(), run_id: runId })}`);
  } catch (_) {
    return; // gone or not visible any more: the next full load settles it
  }
  const known = shownAt.get(run.run_id);
  if (known && known > run.updated_at) return;
  const onFirstPage = !new URLSearchParams(window.location.search).get("cursor");
  let wanted;
  try {
    wanted = filters();
  } catch (_) {
    return;
  }
  const row = [...body.rows].find((tr) => tr.dataset.key === run.run_id);
  if (!matches(run, wanted)) {
    row?.remove();
    shownAt.delete(run.run_id);
    return;
  }
  if (!row && !onFirstPage) return;
  shownAt.set(run.run_id, run.updated_at);
  updateRow(body, columns, run, rowKey);
}

function refreshRow(run) {
  showRun(run.workflow_id, run.run_id);
}

function follow() {
  connect({ service: "workflow", namespace: namespace() });
}

// ---- the start form -------------------------------------------------------------------------

const startPanel = document.getElementById("start-panel");
const startToggle = document.getElementById("start-toggle");
const startForm = document.getElementById("start-form");
const startError = document.getElementById("start-error");

function showStartPanel(shown) {
  startPanel.hidden = !shown;
  startToggle.setAttribute("aria-expanded", String(shown));
  if (shown) {
    document.getElementById("start-namespace").textContent = namespace();
    loadQueueOptions();
    document.getElementById("start-type").focus();
  }
}

async function loadQueueOptions() {
  try {
    const queues = await api("GET", `/api/v1/queues${query({ namespace: namespace() })}`);
    document.getElementById("queue-options").replaceChildren(
      ...queues.items.map((queue) => el("option", { value: queue.task_queue, label: `${queue.task_queue} (${queue.workers} workers)` })),
    );
  } catch (_) {
    // The field still takes any queue name.
  }
}

async function startWorkflow(event) {
  event.preventDefault();
  const fields = startForm.elements;
  let request;
  try {
    for (const name of ["workflow_type", "task_queue"]) {
      const control = fields[name];
      control.setAttribute("aria-invalid", String(!control.value.trim()));
      if (!control.value.trim()) throw new Error(`${control.labels[0].textContent} is required.`);
    }
    request = {
      namespace: namespace(),
      workflow_type: fields.workflow_type.value.trim(),
      workflow_id: fields.workflow_id.value.trim() || undefined,
      task_queue: fields.task_queue.value.trim(),
      input: readJson(fields.input, "Input"),
      search_attributes: readJson(fields.search_attributes, "Search attributes", { object: true, fallback: {} }),
    };
  } catch (problem) {
    renderProblem(startError, problem);
    return;
  }
  try {
    const started = await api("POST", "/api/v1/workflows", request);
    renderProblem(startError, null);
    fields.workflow_id.value = "";
    toast(`Started ${started.workflow_id}`, "ok");
    showRun(started.workflow_id, started.run_id);
  } catch (problem) {
    renderProblem(startError, problem);
  }
}

startToggle.addEventListener("click", () => showStartPanel(startPanel.hidden));
document.getElementById("start-close").addEventListener("click", () => {
  showStartPanel(false);
  startToggle.focus();
});
startForm.addEventListener("submit", startWorkflow);

// ---- wiring ---------------------------------------------------------------------------------

form.addEventListener("submit", (event) => {
  event.preventDefault();
  applyFilters();
});
document.getElementById("clear-filters").addEventListener("click", () => {
  for (const name of FILTERS) form.elements[name].value = "";
  attributesFilter.removeAttribute("aria-invalid");
  applyFilters();
});
document.getElementById("status").addEventListener("change", applyFilters);
attributesFilter.addEventListener("input", () => {
  try {
    readJson(attributesFilter, "Search attributes", { object: true });
  } catch (_) {
    // aria-invalid marks it; the message comes when the filters are applied.
  }
});
nextButton.addEventListener("click", () => {
  if (!nextCursor) return;
  const current = new URLSearchParams(window.location.search).get("cursor") || "";
  setCursors([...cursors(), current], nextCursor);
  loadRuns();
});
previousButton.addEventListener("click", () => {
  const before = cursors();
  // A deep link to a later page has no cursors before it: "Previous" goes to the first page.
  setCursors(before.slice(0, -1), before.at(-1) || "");
  loadRuns();
});

subscribe({ type: "assay.workflow.workflow_*" }, (event) => {
  if (event.data && event.data.workflow_id && event.data.namespace === namespace()) showRun(event.data.workflow_id, event.data.run_id);
});
onResync(loadRuns);

namespaceSelect(namespaceChoice, () => {
  setCursors([], "");
  loadRuns();
  follow();
});
loadRuns();
follow();
