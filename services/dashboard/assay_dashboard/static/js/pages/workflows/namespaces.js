// The namespaces the viewer can see, each with its retention and what it holds (runs by status,
// schedules, workers: `GET /api/v1/namespaces/{name}`). Create, edit (description, retention) and
// delete (not `main`, after a confirmation). Namespace events reload the list.
import { api, query, renderProblem, toast } from "../../api.js";
import { confirmDialog, el, fill, formDialog, table, timeElement } from "../../dom.js";
import { connect, onResync, subscribe } from "../../live.js";

const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const PROTECTED = "main";

const namespacePath = (name) => `/api/v1/namespaces/${encodeURIComponent(name)}`;

function runsCell(usage) {
  if (!usage) return el("span", { className: "muted", text: "—" });
  const counts = Object.entries(usage.runs_by_status);
  const total = counts.reduce((sum, [, count]) => sum + count, 0);
  return el("span", {}, el("strong", { text: String(total) }), " ", el("span", { className: "chips" }, counts.map(([status, count]) => el("span", { className: "chip", text: `${status.toLowerCase()} ${count}` }))));
}

const columns = [
  { label: "Namespace", value: (ns) => el("a", { className: "mono", href: `/workflows${query({ namespace: ns.name })}`, text: ns.name }) },
  { label: "Description", value: (ns) => ns.description },
  { label: "Retention", value: (ns) => `${ns.retention_days} days${ns.retention_is_default ? " (default)" : ""}`, className: "nowrap" },
  { label: "Runs", value: (ns) => runsCell(ns.usage) },
  { label: "Schedules", value: (ns) => (ns.usage ? String(ns.usage.schedules) : "—"), className: "num" },
  { label: "Workers", value: (ns) => (ns.usage ? String(ns.usage.workers) : "—"), className: "num" },
  { label: "Created", value: (ns) => timeElement(ns.created_at), className: "nowrap" },
  { label: "Actions", value: (ns) => el("span", { className: "button-row" }, actionsOf(ns)), className: "actions" },
];

function actionsOf(ns) {
  const edit = el("button", { type: "button", className: "button button-small", "aria-label": `Edit ${ns.name}`, on: { click: () => editNamespace(ns) } }, "Edit");
  if (ns.name === PROTECTED) return [edit];
  return [edit, el("button", { type: "button", className: "button button-small button-danger", "aria-label": `Delete ${ns.name}`, on: { click: () => deleteNamespace(ns) } }, "Delete")];
}

async function loadNamespaces() {
  root.setAttribute("aria-busy", "true");
  try {
    const page = await api("GET", `/api/v1/namespaces${query({ limit: 500 })}`);
    // Counts need `view` on each namespace, which listing already checked; a failure leaves "—".
    const detailed = await Promise.all(page.items.map((ns) => api("GET", namespacePath(ns.name)).catch(() => ns)));
    renderProblem(error, null);
    fill(root, table({ columns, rows: detailed, rowKey: (ns) => ns.name, caption: "Namespaces you can view", empty: "You cannot view any namespace." }));
  } catch (problem) {
    fill(root);
    renderProblem(error, problem);
  }
}

const retentionField = (value) => ({ name: "retention_days", label: "Retention (days)", type: "number", value, hint: "How long closed runs are kept; empty: the service's default." });

async function createNamespace() {
  const made = await formDialog({
    title: "New namespace",
    confirm: "Create",
    fields: [{ name: "name", label: "Name", required: true, placeholder: "payments" }, { name: "description", label: "Description", type: "textarea" }, retentionField(null)],
    submit: (values) => api("POST", "/api/v1/namespaces", values),
  });
  if (!made) return;
  toast(`Namespace ${made.name} created`, "ok");
  loadNamespaces();
}

async function editNamespace(ns) {
  const saved = await formDialog({
    title: `Edit ${ns.name}`,
    fields: [{ name: "description", label: "Description", type: "textarea", value: ns.description }, retentionField(ns.retention_is_default ? null : ns.retention_days)],
    submit: (values) => api("PATCH", namespacePath(ns.name), values),
  });
  if (!saved) return;
  toast(`Namespace ${ns.name} saved`, "ok");
  loadNamespaces();
}

async function deleteNamespace(ns) {
  const sure = await confirmDialog({ title: `Delete ${ns.name}?`, message: "Its schedules are deleted with it; the runs it holds stay.", confirm: "Delete", danger: true });
  if (!sure) return;
  try {
    await api("DELETE", namespacePath(ns.name));
    toast(`Namespace ${ns.name} deleted`, "ok");
    loadNamespaces();
  } catch (problem) {
    toast(problem, "error");
  }
}

document.getElementById("new-namespace").addEventListener("click", createNamespace);
subscribe({ type: "assay.workflow.namespace_*" }, loadNamespaces);
onResync(loadNamespaces);
connect({ service: "workflow", type: ["assay.workflow.namespace_created", "assay.workflow.namespace_updated", "assay.workflow.namespace_deleted"] });
loadNamespaces();
