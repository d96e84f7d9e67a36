// The vault's audit sinks: the list, a form that adds a file, webhook or syslog sink with its
// options and record-type filter, and deleting one.
import { api, attempt, renderProblem, toast } from "../../api.js";
import { badge, confirmDialog, el, fill, table, timeElement } from "../../dom.js";
import { showProblem } from "./common.js";

const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const formSection = document.getElementById("sink-form-section");
const form = document.getElementById("sink-form");
const formError = document.getElementById("sink-form-error");
const typeSelect = document.getElementById("sink-type");
const openButton = document.getElementById("new-sink");
/** The fields that are numbers in the API. */
const NUMBERS = new Set(["rotate_bytes", "rotate_keep", "timeout_seconds"]);

function chips(items) {
  return el("span", { className: "chips" }, items.map((text) => el("span", { className: "chip mono", text })));
}

async function loadSinks() {
  root.setAttribute("aria-busy", "true");
  try {
    const { items } = await api("GET", "/api/v1/vault/audit");
    fill(
      root,
      table({
        columns: [
          { label: "Path", value: (sink) => el("span", { className: "mono", text: sink.path }) },
          { label: "Type", value: (sink) => sink.type },
          { label: "Description", value: (sink) => sink.description },
          { label: "Options", value: (sink) => chips(Object.entries(sink.options).map(([name, value]) => `${name}=${value}`)) },
          { label: "Record types", value: (sink) => chips(sink.filter) },
          { label: "Signed", value: (sink) => (sink.type === "webhook" ? badge(sink.signed ? "ok" : "muted", sink.signed ? "signed" : "unsigned") : "—") },
          { label: "Enabled", value: (sink) => timeElement(sink.created_at) },
          { label: "Actions", className: "actions", value: (sink) => deleteButton(sink) },
        ],
        rows: items,
        rowKey: (sink) => sink.path,
        empty: "No audit sinks: the records stay in the platform's audit stream only.",
      }),
    );
  } catch (problem) {
    fill(root);
    showProblem(error, problem);
  }
}

function deleteButton(sink) {
  const button = el("button", { type: "button", className: "button button-small button-danger", "aria-label": `Delete ${sink.path}` }, "Delete");
  button.addEventListener("click", async () => {
    const sure = await confirmDialog({
      title: `Delete the sink ${sink.path}?`,
      message: "Nothing more is delivered to it. Records already delivered stay where they went.",
      confirm: "Delete",
      danger: true,
    });
    if (sure && (await attempt(() => api("DELETE", `/api/v1/vault/audit/${encodeURIComponent(sink.path)}`), { success: `${sink.path} deleted` })) !== undefined) loadSinks();
  });
  return button;
}

function showForm(open) {
  formSection.hidden = !open;
  openButton.setAttribute("aria-expanded", String(open));
  if (open) document.getElementById("sink-path").focus();
  else {
    form.reset();
    showType();
    renderProblem(formError, null);
  }
}

// Only the chosen type's options are shown, and only they are sent (a hidden fieldset is disabled).
function showType() {
  for (const fieldset of form.querySelectorAll("fieldset[data-sink-type]")) {
    const chosen = fieldset.dataset.sinkType === typeSelect.value;
    fieldset.hidden = !chosen;
    fieldset.disabled = !chosen;
  }
}

function sinkBody() {
  const options = {};
  for (const input of form.querySelectorAll("fieldset[data-sink-type]:not([disabled]) [name]")) {
    const value = input.value.trim();
    if (value === "") continue;
    options[input.name] = NUMBERS.has(input.name) ? Number(value) : value;
  }
  const filter = form.elements.filter.value.split(/[\n,]/).map((glob) => glob.trim()).filter(Boolean);
  return {
    type: typeSelect.value,
    description: form.elements.description.value.trim(),
    options,
    filter: filter.length ? filter : ["*"],
  };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const path = form.elements.path.value.trim();
  try {
    await api("PUT", `/api/v1/vault/audit/${encodeURIComponent(path)}`, sinkBody());
    toast(`Sink ${path} added`, "ok");
    showForm(false);
    loadSinks();
  } catch (problem) {
    showProblem(formError, problem);
  }
});
typeSelect.addEventListener("change", showType);
openButton.addEventListener("click", () => showForm(formSection.hidden));
document.getElementById("sink-cancel").addEventListener("click", () => showForm(false));
showType();
loadSinks();
