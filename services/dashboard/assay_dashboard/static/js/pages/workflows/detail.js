// One workflow: its latest run (or the run of `?run_id=`) in tabs, the chosen tab in the URL
// (`?tab=`) so that a reload or a shared link opens it again. Live events of the workflow refresh
// what changed: the run, its history (new events are appended) and its children; the query state
// (the Steps tab) is read again when the run announces a new one (`query_state_updated`).
import { api, query, renderProblem } from "../../api.js";
import { badge, currentNamespace, el, fill, formatDuration, formatTime, prettyJson, setQueryParam, table, tabs, timeElement } from "../../dom.js";
import { connect, onResync, subscribe } from "../../live.js";
import { runActions, runHref, runLink } from "./common.js";
import { pipelineView } from "./steps.js";

const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const summary = document.getElementById("run-summary");
const actions = document.getElementById("run-actions");
const workflowId = root.dataset.workflowId;
const pinnedRunId = root.dataset.runId || undefined;
const namespace = currentNamespace();

const run = { current: null, state: null, stateGone: false, events: [], children: [] };
const panels = {
  overview: el("div", { className: "wf-overview" }),
  state: el("div"),
  events: el("ol", { className: "wf-events" }),
  children: el("div"),
  attributes: el("div"),
};
const steps = pipelineView(sendStepAction);
let shownTabs = null;

const workflowPath = (rest = "", extra = {}) =>
  `/api/v1/workflows/${encodeURIComponent(workflowId)}${rest}${query({ namespace, run_id: run.current ? run.current.run_id : pinnedRunId, ...extra })}`;

// ---- loading --------------------------------------------------------------------------------

async function loadRun() {
  const fresh = await api("GET", `/api/v1/workflows/${encodeURIComponent(workflowId)}${query({ namespace, run_id: pinnedRunId })}`);
  if (run.current && run.current.run_id !== fresh.run_id) {
    // A new run of the id (retried, continued as new, started again): its history starts anew.
    run.events = [];
    run.state = null;
    panels.events.replaceChildren();
  }
  run.current = fresh;
}

async function loadState() {
  try {
    const found = await api("GET", workflowPath("/state"));
    // Reads overlap (an event's refresh and a query_state_updated), and their answers may come
    // back in any order: a state never replaces a newer one of the same run.
    const older = run.state && run.state.run_id === found.run_id && found.event_seq < run.state.event_seq;
    if (!older) run.state = found;
    run.stateGone = false;
  } catch (problem) {
    if (problem.status !== 404 && problem.status !== 410) throw problem;
    run.state = null;
    run.stateGone = problem.status === 410;
  }
}

async function loadEvents() {
  const after = run.events.length ? run.events.at(-1).seq : 0;
  try {
    const page = await api("GET", workflowPath("/events", { after_seq: after }));
    run.events.push(...page.events);
    panels.events.append(...page.events.map(eventItem));
  } catch (problem) {
    if (problem.status !== 410) throw problem;
    panels.events.replaceChildren(el("li", { className: "empty", text: "This run's history was purged after the namespace's retention." }));
  }
}

async function loadChildren() {
  const page = await api("GET", `/api/v1/workflows${query({ namespace, parent_workflow_id: workflowId, limit: 100 })}`);
  run.children = page.items;
}

let refreshing = null;
let again = null;

/** Reads everything again: one refresh at a time, events meanwhile ask for one more. */
async function refresh({ children = false } = {}) {
  if (refreshing) {
    again = { children: children || Boolean(again && again.children) };
    return refreshing;
  }
  refreshing = (async () => {
    try {
      await loadRun();
      await Promise.all([loadState(), loadEvents(), children ? loadChildren() : null]);
      renderProblem(error, null);
      render();
    } catch (problem) {
      renderProblem(error, problem);
      if (!run.current) fill(root);
    }
  })();
  await refreshing;
  refreshing = null;
  if (again) {
    const wanted = again;
    again = null;
    await refresh(wanted);
  }
}

async function refreshState() {
  try {
    await loadState();
    render();
  } catch (problem) {
    renderProblem(error, problem);
  }
}

// ---- rendering ------------------------------------------------------------------------------

function fact(label, value) {
  return [el("dt", { text: label }), el("dd", {}, value instanceof Node ? value : value === null || value === undefined || value === "" ? "—" : String(value))];
}

function duration(current) {
  const end = current.closed_at ? new Date(current.closed_at) : new Date();
  return formatDuration((end - new Date(current.created_at)) / 1000);
}

function jsonSection(title, value) {
  return el("section", { className: "section" }, el("h2", { text: title }), value === null || value === undefined ? el("p", { className: "muted", text: "None." }) : prettyJson(value));
}

function renderOverview(current) {
  const queueLink = el("a", { href: `/workflows${query({ namespace, task_queue: current.task_queue })}`, text: current.task_queue });
  const continued = current.continued_from_run_id ? el("a", { className: "mono", href: runHref(namespace, workflowId, current.continued_from_run_id), text: current.continued_from_run_id }) : null;
  panels.overview.replaceChildren(
    el(
      "dl",
      { className: "wf-facts" },
      fact("Run id", el("span", { className: "mono", text: current.run_id })),
      fact("Status", badge(current.status)),
      fact("Type", current.workflow_type),
      fact("Task queue", queueLink),
      fact("Namespace", current.namespace),
      fact("Started", formatTime(current.created_at)),
      fact("Closed", formatTime(current.closed_at)),
      fact("Duration", duration(current)),
      fact("Run timeout", current.run_timeout_seconds ? formatDuration(current.run_timeout_seconds) : null),
      fact("Continued from", continued),
      current.purged_at ? fact("Purged", formatTime(current.purged_at)) : null,
      current.archive_uri ? fact("Archive", el("span", { className: "mono", text: current.archive_uri })) : null,
    ),
    jsonSection("Input", current.input),
    jsonSection("Result", current.result),
    current.error ? el("section", { className: "section" }, el("h2", { text: "Error" }), el("div", { className: "notice notice-error" }, prettyJson(current.error))) : null,
  );
}

function renderState() {
  if (!run.state) {
    panels.state.replaceChildren(el("p", { className: "empty", text: run.stateGone ? "The query state was purged after the namespace's retention." : "The run's code has not recorded a query state." }));
    return;
  }
  panels.state.replaceChildren(
    el("p", { className: "muted" }, `Recorded at history event ${run.state.event_seq}, `, timeElement(run.state.updated_at), "."),
    prettyJson(run.state.state),
  );
}

function eventItem(event) {
  return el(
    "li",
    { dataset: { seq: String(event.seq) } },
    el(
      "details",
      {},
      el("summary", {}, el("span", { className: "mono wf-event-seq", text: `#${event.seq}` }), " ", el("strong", { text: event.type }), " ", el("span", { className: "muted", text: formatTime(event.created_at) })),
      prettyJson(event.attributes),
    ),
  );
}

function renderChildren() {
  const columns = [
    { label: "Workflow", value: (child) => runLink(child) },
    { label: "Type", value: (child) => child.workflow_type },
    { label: "Status", value: (child) => badge(child.status) },
    { label: "Started", value: (child) => timeElement(child.created_at) },
  ];
  panels.children.replaceChildren(table({ columns, rows: run.children, rowKey: (child) => child.run_id, empty: "This workflow started no child workflows." }));
}

function renderAttributes(current) {
  const rows = Object.entries(current.search_attributes || {}).map(([name, value]) => ({ name, value }));
  const columns = [
    { label: "Attribute", value: (row) => el("span", { className: "mono", text: row.name }) },
    { label: "Value", value: (row) => el("code", { text: JSON.stringify(row.value) }) },
  ];
  panels.attributes.replaceChildren(table({ columns, rows, empty: "No search attributes." }));
}

function pipeline() {
  const found = run.state && run.state.state && run.state.state.pipeline_state;
  return found && Array.isArray(found.steps) ? found : null;
}

// The tab the visitor asked for (the address's `?tab=`, or a click); until then the page shows its
// default, which the Steps tab becomes when the run records a pipeline.
let askedTab = new URLSearchParams(window.location.search).get("tab") || root.dataset.tab || null;
let buildingTabs = false;

function tabItems(withSteps) {
  const item = (id, label, node) => ({
    id,
    label,
    render: () => {
      if (!buildingTabs) {
        askedTab = id;
        setQueryParam("tab", id);
      }
      return node;
    },
  });
  return [
    withSteps ? item("steps", "Steps", steps.node) : null,
    item("overview", "Overview", panels.overview),
    item("state", "State", panels.state),
    item("events", "Events", panels.events),
    item("children", "Children", panels.children),
    item("attributes", "Attributes", panels.attributes),
  ].filter(Boolean);
}

function render() {
  const current = run.current;
  summary.replaceChildren(
    el("span", { className: "wf-summary-item" }, badge(current.status)),
    el("span", { className: "wf-summary-item" }, "Type ", el("strong", { text: current.workflow_type })),
    el("span", { className: "wf-summary-item" }, "Queue ", el("strong", { text: current.task_queue })),
    el("span", { className: "wf-summary-item" }, "Started ", timeElement(current.created_at)),
  );
  // The buttons change with the run's status only, so a focused one is not replaced meanwhile.
  const actionsKey = `${current.run_id} ${current.status}`;
  if (actions.dataset.shown !== actionsKey) {
    actions.replaceChildren(...runActions(current, () => refresh()));
    actions.dataset.shown = actionsKey;
  }
  renderOverview(current);
  renderState();
  renderChildren();
  renderAttributes(current);
  const found = pipeline();
  if (found) steps.update(found, current);
  // The Steps tab comes when the run records a pipeline; the tabs are built again only then.
  const withSteps = Boolean(found);
  if (shownTabs !== withSteps) {
    const selected = askedTab && (askedTab !== "steps" || withSteps) ? askedTab : withSteps ? "steps" : "overview";
    buildingTabs = true;
    try {
      fill(root, tabs(tabItems(withSteps), { selected }));
    } finally {
      buildingTabs = false;
    }
    shownTabs = withSteps;
  }
}

// ---- steps ------------------------------------------------------------------------------------

async function sendStepAction(payload) {
  await api("POST", workflowPath("/signal/step_action"), { payload });
}

// ---- wiring -----------------------------------------------------------------------------------

subscribe({ type: "assay.workflow.*" }, (event) => {
  const data = event.data || {};
  if (data.namespace !== namespace) return;
  if (data.workflow_id === workflowId) {
    if (event.type === "assay.workflow.query_state_updated") refreshState();
    else refresh();
  } else if (data.parent_workflow_id === workflowId || run.children.some((child) => child.workflow_id === data.workflow_id)) refresh({ children: true });
});
onResync(() => refresh({ children: true }));
connect({ service: "workflow", namespace });
refresh({ children: true });
