// The task queues of a namespace: ready and leased workflow tasks, scheduled and running
// activities, workers. Work that waits on a queue no worker serves is a backlog: the row and a
// notice above the table say so. Workflow events of the namespace read the counts again (at most
// once a second); worker counts have no events, so the counts are also read every 15 s.
import { api, query, renderProblem } from "../../api.js";
import { badge, currentNamespace, el, fill, table, updateRow } from "../../dom.js";
import { connect, onResync, subscribe } from "../../live.js";
import { namespaceSelect } from "./common.js";

const REFRESH_MS = 15000;
const EVENT_DELAY_MS = 1000;
const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const backlogNotice = document.getElementById("backlog");
let namespace = currentNamespace();
let body = null;

const waiting = (q) => q.workflow_tasks_ready + q.activities_scheduled;
const hasBacklog = (q) => waiting(q) > 0 && q.workers === 0;

const columns = [
  { label: "Queue", value: (q) => el("span", { className: "mono", text: q.task_queue }) },
  { label: "Workflow tasks ready", value: (q) => String(q.workflow_tasks_ready), className: "num" },
  { label: "Workflow tasks leased", value: (q) => String(q.workflow_tasks_leased), className: "num" },
  { label: "Activities scheduled", value: (q) => String(q.activities_scheduled), className: "num" },
  { label: "Activities running", value: (q) => String(q.activities_running), className: "num" },
  { label: "Workers", value: (q) => String(q.workers), className: "num" },
  { label: "State", value: (q) => (hasBacklog(q) ? badge("warn", "backlog, no worker") : waiting(q) > 0 ? badge("pending", "work waiting") : badge("ok", "ok")) },
  { label: "Runs", value: (q) => el("a", { href: `/workflows${query({ namespace, task_queue: q.task_queue })}`, "aria-label": `Runs on ${q.task_queue}`, text: "Runs" }), className: "actions" },
];
const rowKey = (q) => q.task_queue;

function showBacklog(queues) {
  const stuck = queues.filter(hasBacklog).map((q) => q.task_queue);
  if (!stuck.length) {
    backlogNotice.replaceChildren();
    return;
  }
  backlogNotice.replaceChildren(
    el("div", { className: "notice notice-warn" }, el("p", { text: `Work waits on ${stuck.join(", ")}, and no worker serves ${stuck.length === 1 ? "it" : "them"}: start a worker for ${stuck.length === 1 ? "this queue" : "these queues"}.` })),
  );
}

async function loadQueues({ quiet = false } = {}) {
  if (!quiet) root.setAttribute("aria-busy", "true");
  try {
    const found = await api("GET", `/api/v1/queues${query({ namespace })}`);
    renderProblem(error, null);
    const known = body ? new Set([...body.rows].map((tr) => tr.dataset.key)) : new Set();
    const same = body && found.items.length === known.size && found.items.every((q) => known.has(q.task_queue));
    if (quiet && same) {
      for (const q of found.items) updateRow(body, columns, q, rowKey);
    } else {
      const made = table({ columns, rows: found.items, rowKey, caption: `Task queues of ${namespace}`, empty: `No queue of ${namespace} has work or workers.` });
      body = made.querySelector("tbody");
      fill(root, made);
    }
    showBacklog(found.items);
  } catch (problem) {
    renderProblem(error, problem);
    if (!quiet) fill(root);
  }
}

let pending = null;

function soon() {
  pending ||= setTimeout(() => {
    pending = null;
    loadQueues({ quiet: true });
  }, EVENT_DELAY_MS);
}

subscribe({ type: "assay.workflow.*" }, (event) => {
  if (event.data && event.data.namespace === namespace) soon();
});
onResync(() => loadQueues());
namespaceSelect(document.getElementById("namespace"), (chosen) => {
  namespace = chosen;
  loadQueues();
  connect({ service: "workflow", namespace });
});
connect({ service: "workflow", namespace });
loadQueues();
setInterval(() => loadQueues({ quiet: true }), REFRESH_MS);
