// Schedules of a namespace. A row's actions: details (spec, next slots, recent fires; kept in the
// URL as `?schedule=`), edit (PATCH of the fields changed), pause/resume with a note, trigger now,
// delete after a confirmation. Schedule events of the namespace update their row in place.
import { api, query, renderProblem, toast } from "../../api.js";
import { badge, confirmDialog, currentNamespace, el, fill, formDialog, prettyJson, setQueryParam, table, timeElement, updateRow } from "../../dom.js";
import { connect, onResync, subscribe } from "../../live.js";
import { namespaceSelect, runHref } from "./common.js";

const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const detail = document.getElementById("schedule-detail");
const OVERLAP_POLICIES = ["skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"];
const EXPRESSION_HINT = "Cron (5, 6 or 7 fields), a macro (@daily, @hourly…) or an interval (@every 30s).";
let namespace = currentNamespace();
let body = null;

const schedulePath = (id, rest = "") => `/api/v1/schedules/${encodeURIComponent(id)}${rest}${query({ namespace })}`;

const columns = [
  { label: "Schedule", value: (s) => el("button", { type: "button", className: "link-button mono", "aria-label": `Details of ${s.schedule_id}`, on: { click: () => showDetail(s.schedule_id) } }, s.schedule_id) },
  { label: "Workflow type", value: (s) => s.workflow_type },
  { label: "Spec", value: (s) => el("span", {}, el("code", { text: s.expression }), " ", el("span", { className: "muted", text: s.timezone })) },
  { label: "Queue", value: (s) => s.task_queue },
  { label: "State", value: (s) => (s.paused ? badge("paused", "paused") : badge("active", "active")) },
  { label: "Next fire", value: (s) => timeElement(s.next_run_at), className: "nowrap" },
  { label: "Last fired", value: (s) => timeElement(s.last_fired_at), className: "nowrap" },
  { label: "Actions", value: (s) => el("span", { className: "button-row wf-row-actions" }, actionsOf(s)), className: "actions" },
];
const rowKey = (s) => s.schedule_id;

function actionsOf(schedule) {
  const id = schedule.schedule_id;
  const button = (label, action, className = "") => el("button", { type: "button", className: `button button-small ${className}`, "aria-label": `${label} ${id}`, on: { click: () => action(schedule) } }, label);
  return [
    button("Edit", edit),
    schedule.paused ? button("Resume", (s) => pauseOrResume(s, "resume")) : button("Pause", (s) => pauseOrResume(s, "pause")),
    button("Trigger now", trigger),
    button("Delete", remove, "button-danger"),
  ];
}

async function loadSchedules() {
  root.setAttribute("aria-busy", "true");
  try {
    const page = await api("GET", `/api/v1/schedules${query({ namespace, limit: 500 })}`);
    renderProblem(error, null);
    const made = table({ columns, rows: page.items, rowKey, caption: `Schedules of ${namespace}`, empty: `No schedules in ${namespace}.` });
    body = made.querySelector("tbody");
    fill(root, made);
  } catch (problem) {
    body = null;
    fill(root);
    renderProblem(error, problem);
  }
  const chosen = new URLSearchParams(window.location.search).get("schedule");
  if (chosen) showDetail(chosen);
  else detail.hidden = true;
}

function rowOf(id) {
  return body ? [...body.rows].find((tr) => tr.dataset.key === id) : undefined;
}

/** The schedule as it is now: its row replaced or added, or removed when it is gone. */
async function refreshSchedule(id) {
  if (!body) return;
  try {
    updateRow(body, columns, await api("GET", schedulePath(id)), rowKey);
  } catch (problem) {
    if (problem.status === 404) rowOf(id)?.remove();
  }
  if (new URLSearchParams(window.location.search).get("schedule") === id) showDetail(id);
}

// ---- details --------------------------------------------------------------------------------

function fact(label, value) {
  return [el("dt", { text: label }), el("dd", {}, value instanceof Node ? value : value === null || value === undefined || value === "" ? "—" : String(value))];
}

async function showDetail(id) {
  setQueryParam("schedule", id);
  for (const tr of body ? body.rows : []) tr.classList.toggle("selected", tr.dataset.key === id);
  let found;
  try {
    found = await api("GET", schedulePath(id));
  } catch (problem) {
    setQueryParam("schedule", null);
    detail.hidden = true;
    if (problem.status !== 404) renderProblem(error, problem);
    return;
  }
  const fires = table({
    columns: [
      { label: "Slot", value: (f) => timeElement(f.nominal_at) },
      { label: "Trigger", value: (f) => f.trigger },
      { label: "Outcome", value: (f) => badge(f.outcome === "started" ? "ok" : f.outcome === "missed" ? "warn" : "muted", f.outcome) },
      { label: "Run", value: (f) => (f.workflow_id ? el("a", { className: "mono", href: runHref(namespace, f.workflow_id, f.run_id), text: f.workflow_id }) : "—") },
    ],
    rows: found.recent_fires,
    empty: "It has not fired yet.",
  });
  const close = el("button", { type: "button", className: "button button-small" }, "Close");
  close.addEventListener("click", () => {
    setQueryParam("schedule", null);
    detail.hidden = true;
    for (const tr of body ? body.rows : []) tr.classList.remove("selected");
  });
  detail.replaceChildren(
    el("div", { className: "section-header" }, el("h2", {}, "Schedule ", el("span", { className: "mono", text: found.schedule_id })), close),
    el(
      "dl",
      { className: "wf-facts" },
      fact("Spec", el("code", { text: found.expression })),
      fact("Time zone", found.timezone),
      fact("Workflow type", found.workflow_type),
      fact("Task queue", found.task_queue),
      fact("Overlap policy", found.overlap_policy),
      fact("Jitter", `${found.jitter_seconds} s`),
      fact("Catch-up window", `${found.catchup_window_seconds} s`),
      fact("Start at", found.start_at ? timeElement(found.start_at) : null),
      fact("End at", found.end_at ? timeElement(found.end_at) : null),
      fact("State", found.paused ? badge("paused", "paused") : badge("active", "active")),
      fact("Note", found.note),
      fact("Open runs", found.running.length ? found.running.join(", ") : null),
      fact("Buffered fires", found.buffered),
      fact("Missed slots", found.missed),
    ),
    el("h3", { text: "Next fires" }),
    found.upcoming.length ? el("ol", { className: "wf-upcoming" }, found.upcoming.map((at) => el("li", {}, timeElement(at), " ", el("span", { className: "muted", text: new Date(at).toLocaleString() })))) : el("p", { className: "muted", text: found.paused ? "None while it is paused." : "None: no slot is left." }),
    el("h3", { text: "Input" }),
    prettyJson(found.input),
    el("h3", { text: "Recent fires, newest first" }),
    fires,
  );
  detail.hidden = false;
}

// ---- actions ----------------------------------------------------------------------------------

function scheduleFields(schedule) {
  const creating = !schedule;
  const given = schedule || { task_queue: "main", timezone: "UTC", overlap_policy: "skip", jitter_seconds: 0, input: null, search_attributes: {} };
  return [
    creating ? { name: "schedule_id", label: "Schedule id", required: true, hint: "Letters, digits, . _ -" } : null,
    { name: "workflow_type", label: "Workflow type", required: true, value: given.workflow_type },
    { name: "task_queue", label: "Task queue", required: true, value: given.task_queue },
    { name: "expression", label: "When", required: true, value: given.expression, placeholder: "0 3 * * *", hint: EXPRESSION_HINT },
    { name: "timezone", label: "Time zone (IANA)", required: true, value: given.timezone },
    { name: "overlap_policy", label: "Overlap policy", type: "select", value: given.overlap_policy, options: OVERLAP_POLICIES.map((p) => [p, p]) },
    { name: "jitter_seconds", label: "Jitter (seconds)", type: "number", value: given.jitter_seconds },
    { name: "input", label: "Input (JSON)", type: "json", value: given.input ?? "" },
    { name: "search_attributes", label: "Search attributes (JSON object)", type: "json", value: given.search_attributes },
    creating ? { name: "paused", label: "Create it paused", type: "checkbox" } : null,
    { name: "note", label: "Note", type: "textarea", value: given.note || "" },
  ].filter(Boolean);
}

function checkAttributes(values) {
  const attributes = values.search_attributes ?? {};
  if (typeof attributes !== "object" || Array.isArray(attributes)) throw new Error("Search attributes: give a JSON object.");
  return { ...values, search_attributes: attributes, jitter_seconds: values.jitter_seconds ?? 0 };
}

async function create() {
  const made = await formDialog({
    title: `New schedule in ${namespace}`,
    confirm: "Create",
    fields: scheduleFields(null),
    submit: (values) => api("POST", "/api/v1/schedules", { ...checkAttributes(values), namespace }),
  });
  if (!made) return;
  toast(`Schedule ${made.schedule_id} created`, "ok");
  refreshSchedule(made.schedule_id);
}

async function edit(schedule) {
  const current = await api("GET", schedulePath(schedule.schedule_id)).catch((problem) => toast(problem, "error"));
  if (!current) return;
  const saved = await formDialog({
    title: `Edit ${schedule.schedule_id}`,
    fields: scheduleFields(current),
    submit: (values) => {
      const checked = checkAttributes(values);
      const changed = Object.fromEntries(Object.entries(checked).filter(([name, value]) => JSON.stringify(value) !== JSON.stringify(current[name])));
      return Object.keys(changed).length ? api("PATCH", schedulePath(schedule.schedule_id), changed) : null;
    },
  });
  if (!saved) return;
  toast(`Schedule ${schedule.schedule_id} saved`, "ok");
  refreshSchedule(schedule.schedule_id);
}

async function pauseOrResume(schedule, verb) {
  const done = await formDialog({
    title: `${verb === "pause" ? "Pause" : "Resume"} ${schedule.schedule_id}`,
    confirm: verb === "pause" ? "Pause" : "Resume",
    fields: [{ name: "note", label: "Note", type: "textarea", value: schedule.note, hint: "Replaces the schedule's note (why it is paused)." }],
    submit: (values) => api("POST", schedulePath(schedule.schedule_id, `/${verb}`), { note: values.note }),
  });
  if (!done) return;
  toast(`Schedule ${schedule.schedule_id} ${verb === "pause" ? "paused" : "resumed"}`, "ok");
  refreshSchedule(schedule.schedule_id);
}

async function trigger(schedule) {
  try {
    const fire = await api("POST", schedulePath(schedule.schedule_id, "/trigger"), {});
    toast(fire.workflow_id ? `Started ${fire.workflow_id}` : `The fire was ${fire.outcome}`, "ok");
    refreshSchedule(schedule.schedule_id);
  } catch (problem) {
    toast(problem, "error");
  }
}

async function remove(schedule) {
  const sure = await confirmDialog({ title: `Delete ${schedule.schedule_id}?`, message: "It fires no more; the runs it started go on.", confirm: "Delete", danger: true });
  if (!sure) return;
  try {
    await api("DELETE", schedulePath(schedule.schedule_id));
    rowOf(schedule.schedule_id)?.remove();
    if (!body.rows.length) loadSchedules();
    if (new URLSearchParams(window.location.search).get("schedule") === schedule.schedule_id) {
      setQueryParam("schedule", null);
      detail.hidden = true;
    }
    toast(`Schedule ${schedule.schedule_id} deleted`, "ok");
  } catch (problem) {
    toast(problem, "error");
  }
}

document.getElementById("new-schedule").addEventListener("click", create);
subscribe({ type: "assay.workflow.schedule_*" }, (event) => {
  const data = event.data || {};
  if (data.namespace !== namespace || !data.schedule_id) return;
  if (event.type === "assay.workflow.schedule_deleted") rowOf(data.schedule_id)?.remove();
  else refreshSchedule(data.schedule_id);
});
onResync(loadSchedules);
namespaceSelect(document.getElementById("namespace"), (chosen) => {
  namespace = chosen;
  setQueryParam("schedule", null);
  loadSchedules();
  connect({ service: "workflow", namespace });
});
connect({ service: "workflow", namespace });
loadSchedules();
