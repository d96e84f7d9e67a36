// What the workflow console's pages share: the namespace select, links to runs, JSON fields
// checked in the browser, and the actions an operator takes on a run (from the list and from a
// run's page).
import { api, query, renderProblem, toast } from "../../api.js";
import { currentNamespace, el, formDialog, setQueryParam } from "../../dom.js";

export const STATUSES = ["RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TERMINATED", "TIMED_OUT", "CONTINUED_AS_NEW"];

/** Whether the run still runs (signals, cancel, terminate and continue-as-new need an open run). */
export function isOpen(run) {
  return run.status === "RUNNING";
}

/** The run's page: `/workflows/<id>?namespace=…` (and `run_id` to pin one run). */
export function runHref(namespace, workflowId, runId) {
  return `/workflows/${encodeURIComponent(workflowId)}${query({ namespace, run_id: runId })}`;
}

export function runLink(run, label) {
  return el("a", { className: "mono", href: runHref(run.namespace, run.workflow_id), text: label || run.workflow_id });
}

/** `/api/v1/workflows/<id>/<rest>?namespace=…` */
export function runPath(run, rest = "") {
  return `/api/v1/workflows/${encodeURIComponent(run.workflow_id)}${rest ? `/${rest}` : ""}${query({ namespace: run.namespace })}`;
}

let whoami = null;

/** A name for the signed-in caller (their email, else their principal id), asked once. */
export function callerName() {
  whoami ||= api("GET", "/api/v1/auth/whoami")
    .then((me) => (me.user ? me.user.email || me.user.display_name : me.principal.id))
    .catch(() => "");
  return whoami;
}

/**
 * The value of a JSON text field, or `fallback` when it is empty; an object when `object` is set.
 * Marks the control invalid (aria-invalid) and throws an Error naming `label` otherwise.
 */
export function readJson(control, label, { object = false, fallback = null } = {}) {
  control.removeAttribute("aria-invalid");
  const text = control.value.trim();
  if (!text) return fallback;
  let value;
  try {
    value = JSON.parse(text);
  } catch (_) {
    control.setAttribute("aria-invalid", "true");
    throw new Error(`${label}: this is not valid JSON.`);
  }
  if (object && (value === null || typeof value !== "object" || Array.isArray(value))) {
    control.setAttribute("aria-invalid", "true");
    throw new Error(`${label}: give a JSON object, like {"customer": "c-42"}.`);
  }
  return value;
}

/**
 * Fills `select` with the namespaces the viewer can see (the current one first if it is not among
 * them); a change keeps the choice in the URL and the page's namespace, then calls `onChange`.
 */
export async function namespaceSelect(select, onChange) {
  const chosen = currentNamespace();
  select.addEventListener("change", () => {
    setQueryParam("namespace", select.value);
    document.body.dataset.namespace = select.value;
    onChange(select.value);
  });
  try {
    const page = await api("GET", `/api/v1/namespaces${query({ limit: 500 })}`);
    const names = page.items.map((item) => item.name);
    if (!names.includes(chosen)) names.unshift(chosen);
    select.replaceChildren(...names.map((name) => el("option", { value: name, selected: name === chosen }, name)));
  } catch (problem) {
    renderProblem(document.getElementById("page-error"), problem);
  }
}

// ---- operator actions on a run ------------------------------------------------------------------
// Each action asks in a dialog (errors of the API stay in it), then says what it did. The page
// learns the outcome from the run's events; `done(run)` lets it refresh at once as well.

function signalRun(run) {
  return formDialog({
    title: `Signal ${run.workflow_id}`,
    confirm: "Send signal",
    fields: [
      { name: "name", label: "Signal name", required: true, placeholder: "approve" },
      { name: "payload", label: "Payload (JSON)", type: "json", placeholder: '{"approved": true}', hint: "Empty sends null." },
    ],
    submit: (values) => api("POST", runPath(run, `signal/${encodeURIComponent(values.name)}`), { payload: values.payload }),
  }).then((sent) => sent && `Signal ${sent.name} sent`);
}

function reasonDialog(run, { title, confirm, danger, rest, success }) {
  return formDialog({
    title,
    confirm,
    danger,
    fields: [{ name: "reason", label: "Reason", type: "textarea", hint: "Recorded in the run's history." }],
    submit: (values) => api("POST", runPath(run, rest), { reason: values.reason }),
  }).then((sent) => sent && success);
}

function continueAsNew(run) {
  return formDialog({
    title: `Continue ${run.workflow_id} as new`,
    confirm: "Continue as new",
    fields: [{ name: "input", label: "Input of the new run (JSON)", type: "json", value: run.input, hint: "The open run closes CONTINUED_AS_NEW; a new run starts with this input." }],
    submit: (values) => api("POST", runPath(run, "continue-as-new"), { run_id: run.run_id, input: values.input }),
  }).then((sent) => sent && "A new run started");
}

// A closed run cannot be continued as new (the API answers 409): it is started again instead,
// with the same type, queue, input and search attributes.
function startAgain(run) {
  return formDialog({
    title: `Start ${run.workflow_type} again`,
    confirm: "Start",
    fields: [
      { name: "workflow_id", label: "Workflow id", required: true, value: run.workflow_id, hint: "The same id starts a new run of it." },
      { name: "input", label: "Input (JSON)", type: "json", value: run.input },
    ],
    submit: (values) =>
      api("POST", "/api/v1/workflows", {
        namespace: run.namespace,
        workflow_id: values.workflow_id,
        workflow_type: run.workflow_type,
        task_queue: run.task_queue,
        input: values.input,
        search_attributes: run.search_attributes || {},
      }),
  }).then((sent) => sent && "A new run started");
}

async function retryRun(run) {
  const sent = await formDialog({
    title: `Retry the failed activity of ${run.workflow_id}`,
    confirm: "Retry",
    fields: [
      { name: "requested_by", label: "Requested by", required: true, value: await callerName() },
      { name: "reason", label: "Reason", type: "textarea", required: true, hint: "Why the activity may succeed now; recorded in the new run's history." },
    ],
    submit: (values) => api("POST", runPath(run, "retry"), { requested_by: values.requested_by, reason: values.reason }),
  });
  return sent && "The activity runs again in a new run";
}

const cancelRun = (run) =>
  reasonDialog(run, { title: `Cancel ${run.workflow_id}`, confirm: "Request cancellation", rest: "cancel", success: "Cancellation requested" });
const terminateRun = (run) =>
  reasonDialog(run, { title: `Terminate ${run.workflow_id}`, confirm: "Terminate", danger: true, rest: "terminate", success: "Terminated" });

/**
 * The buttons of the actions `run` allows, each named with the run's id for screen readers;
 * `done(run)` runs after an action succeeded.
 */
export function runActions(run, done = () => {}) {
  const button = (label, action, danger = false) =>
    el(
      "button",
      {
        type: "button",
        className: `button button-small${danger ? " button-danger" : ""}`,
        "aria-label": `${label} ${run.workflow_id}`,
        on: {
          click: async () => {
            const said = await action(run);
            if (!said) return;
            toast(said, "ok");
            done(run);
          },
        },
      },
      label,
    );
  if (isOpen(run)) {
    return [button("Signal", signalRun), button("Cancel", cancelRun), button("Terminate", terminateRun, true), button("Continue as new", continueAsNew)];
  }
  const actions = [button("Start again", startAgain)];
  if (run.status === "FAILED") actions.unshift(button("Retry", retryRun));
  return actions;
}
