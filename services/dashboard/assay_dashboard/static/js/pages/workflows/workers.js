// The workers of a namespace. Workers beat every 10 s: a heartbeat under 30 s old is healthy,
// under 60 s late, older stale. No event tells of heartbeats, so the list is read again every
// 15 s (rows are updated in place; an expanded row stays open) and the ages are recomputed
// every 5 s. Expanding a row ("Runs", aria-expanded) lists the runs whose workflow task the
// worker holds or last held.
import { api, query, renderProblem } from "../../api.js";
import { badge, currentNamespace, el, fill, table, tableRow, timeElement } from "../../dom.js";
import { namespaceSelect, runLink } from "./common.js";

const REFRESH_MS = 15000;
const AGE_MS = 5000;
const HEALTHY_SECONDS = 30;
const LATE_SECONDS = 60;
const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
let namespace = currentNamespace();
let body = null;
const workers = new Map();
const expanded = new Set();

function health(worker) {
  const age = (Date.now() - new Date(worker.last_heartbeat).getTime()) / 1000;
  if (age < HEALTHY_SECONDS) return ["healthy", "healthy"];
  return age < LATE_SECONDS ? ["warn", "late"] : ["stale", "stale"];
}

const chips = (names) => (names.length ? el("span", { className: "chips" }, names.map((name) => el("span", { className: "chip", text: name }))) : "—");

const columns = [
  { label: "Health", value: (w) => badge(...health(w)) },
  { label: "Identity", value: (w) => el("span", {}, el("strong", { text: w.identity }), el("br"), el("span", { className: "mono muted", text: w.worker_id })) },
  { label: "Queue", value: (w) => el("a", { href: `/workflows${query({ namespace, task_queue: w.task_queue })}`, text: w.task_queue }) },
  { label: "Workflow types", value: (w) => chips(w.workflow_types) },
  { label: "Activities", value: (w) => chips(w.activity_names) },
  { label: "Concurrency", value: (w) => `${w.max_concurrent_workflow_tasks} tasks, ${w.max_concurrent_activities} activities` },
  { label: "Last heartbeat", value: (w) => timeElement(w.last_heartbeat), className: "nowrap" },
  { label: "Runs", value: (w) => expandButton(w), className: "actions" },
];
const rowKey = (w) => w.worker_id;

function expandButton(worker) {
  const open = expanded.has(worker.worker_id);
  return el("button", { type: "button", className: "button button-small", "aria-expanded": String(open), "aria-controls": `runs-${worker.worker_id}`, "aria-label": `Runs of ${worker.identity} (${worker.worker_id})`, on: { click: () => toggle(worker.worker_id) } }, "Runs");
}

function detailRow(id) {
  return body.querySelector(`tr[data-detail="${CSS.escape(id)}"]`);
}

async function fillRuns(id) {
  const cell = el("td", { colspan: String(columns.length) }, el("p", { className: "muted", text: "Loading…" }));
  const existing = detailRow(id);
  const row = el("tr", { id: `runs-${id}`, className: "wf-detail-row", dataset: { detail: id } }, cell);
  if (existing) existing.replaceWith(row);
  else body.querySelector(`tr[data-key="${CSS.escape(id)}"]`).after(row);
  try {
    const page = await api("GET", `/api/v1/workflows${query({ namespace, worker_id: id, limit: 20 })}`);
    const runs = table({
      columns: [
        { label: "Workflow", value: (run) => runLink(run) },
        { label: "Type", value: (run) => run.workflow_type },
        { label: "Status", value: (run) => badge(run.status) },
        { label: "Started", value: (run) => timeElement(run.created_at) },
      ],
      rows: page.items,
      caption: "Runs whose workflow task it holds or last held",
      empty: "It holds no workflow task.",
    });
    cell.replaceChildren(runs);
  } catch (problem) {
    cell.replaceChildren(el("p", { className: "failing", text: problem.sentence || String(problem) }));
  }
}

function toggle(id) {
  const open = !expanded.has(id);
  if (open) {
    expanded.add(id);
    fillRuns(id);
  } else {
    expanded.delete(id);
    detailRow(id)?.remove();
  }
  body.querySelector(`tr[data-key="${CSS.escape(id)}"] [aria-expanded]`).setAttribute("aria-expanded", String(open));
}

/** Shows `worker` in its row: the cells are replaced but the last, whose button may have the
 * focus; a new worker gets a row at the end. */
function replaceRow(worker) {
  const fresh = tableRow(columns, worker, rowKey);
  const existing = body.querySelector(`tr[data-key="${CSS.escape(worker.worker_id)}"]`);
  if (!existing) {
    body.append(fresh);
    return;
  }
  [...fresh.cells].slice(0, -1).forEach((cell, index) => existing.cells[index].replaceWith(cell));
}

async function loadWorkers({ quiet = false } = {}) {
  if (!quiet) root.setAttribute("aria-busy", "true");
  try {
    const page = await api("GET", `/api/v1/workers${query({ namespace, limit: 500 })}`);
    renderProblem(error, null);
    const seen = new Set(page.items.map(rowKey));
    if (!body || !quiet || !page.items.length || !workers.size) {
      workers.clear();
      expanded.clear();
      const made = table({ columns, rows: page.items, rowKey, caption: `Workers of ${namespace}`, empty: `No worker is registered in ${namespace}.` });
      body = made.querySelector("tbody");
      fill(root, made);
    } else {
      for (const [id] of workers) {
        if (seen.has(id)) continue;
        body.querySelector(`tr[data-key="${CSS.escape(id)}"]`)?.remove();
        detailRow(id)?.remove();
        expanded.delete(id);
      }
      body.querySelector("td.empty")?.parentElement?.remove();
      for (const worker of page.items) replaceRow(worker);
    }
    workers.clear();
    for (const worker of page.items) workers.set(worker.worker_id, worker);
    for (const id of expanded) fillRuns(id);
  } catch (problem) {
    renderProblem(error, problem);
    if (!quiet) fill(root);
  }
}

// Ages and health move with the clock, not with the data.
function reage() {
  for (const worker of workers.values()) replaceRow(worker);
}

namespaceSelect(document.getElementById("namespace"), (chosen) => {
  namespace = chosen;
  loadWorkers();
});
loadWorkers();
setInterval(() => loadWorkers({ quiet: true }), REFRESH_MS);
setInterval(() => body && reage(), AGE_MS);
