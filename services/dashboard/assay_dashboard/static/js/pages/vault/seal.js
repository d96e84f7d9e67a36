// The seal page: the vault's state on the replica that answered, and the one thing to do in it —
// initialize (the key shares are shown this once), unseal one share at a time, or seal. Seal
// events from any replica or any other tab refresh it.
import { api, attempt, renderProblem, toast } from "../../api.js";
import { badge, confirmDialog, copyable, el, fieldControl, fill } from "../../dom.js";
import { connect, onResync, subscribe } from "../../live.js";
import { stat } from "./common.js";

const statusRoot = document.getElementById("seal-status");
const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const SEAL_EVENTS = ["assay.vault.initialized", "assay.vault.sealed", "assay.vault.unsealed", "assay.vault.kek_rotated"];

/** The key shares `init` answered: shown until the administrator says they are stored. */
let shares = null;
/** The state the actions were built for ("uninitialized", "sealed", "unsealed"). */
let shownState = null;
let progressParts = null;

function stateOf(status) {
  if (!status.initialized) return "uninitialized";
  return status.sealed ? "sealed" : "unsealed";
}

function renderStatus(status) {
  const state = stateOf(status);
  const threshold = status.initialized ? `${status.secret_threshold} of ${status.secret_shares}` : "—";
  statusRoot.removeAttribute("aria-busy");
  statusRoot.replaceChildren(
    el(
      "div",
      { className: "card vault-seal-card" },
      stat("State", badge(state)),
      stat("Shares to unseal", threshold),
      stat("Unseal progress", state === "sealed" ? `${status.progress} of ${status.secret_threshold}` : "—"),
      stat("Attempt", status.nonce ? el("code", { text: status.nonce }) : "none"),
      stat("Key-encryption key", status.kek_version === null ? "—" : `version ${status.kek_version}`),
      stat("Replica", el("code", { text: status.replica })),
    ),
  );
}

function sharesNotice() {
  const list = el("ol", { className: "vault-shares" }, shares.keys.map((key) => el("li", {}, copyable(key))));
  const copyAll = el("button", { type: "button", className: "button" }, "Copy all shares");
  copyAll.addEventListener("click", async () => {
    await attempt(() => navigator.clipboard.writeText(shares.keys.join("\n")), { success: "Copied every share" });
  });
  const stored = el("button", { type: "button", className: "button button-primary" }, "I have stored every share");
  stored.addEventListener("click", async () => {
    const sure = await confirmDialog({
      title: "Hide the key shares?",
      message: "They cannot be shown again. Without enough of them the vault can never be unsealed.",
      confirm: "Hide them",
    });
    if (!sure) return;
    shares = null;
    window.removeEventListener("beforeunload", holdPage);
    shownState = null;
    loadStatus();
  });
  return el(
    "section",
    { className: "secret-once", "aria-labelledby": "shares-title" },
    el("h2", { id: "shares-title", text: "Key shares" }),
    el("p", {}, el("strong", { text: "You will not see these again." }), ` Hand each of the ${shares.keys.length} shares to a different keeper; any ${shares.secret_threshold} of them unseal the vault. The vault keeps none of them.`),
    list,
    el("div", { className: "button-row" }, copyAll, stored),
  );
}

// Leaving the page while the shares are shown loses them for good: the browser asks first.
function holdPage(event) {
  event.preventDefault();
  event.returnValue = "";
}

function initForm() {
  const count = fieldControl({ name: "secret_shares", label: "Key shares", type: "number", value: 5, required: true, hint: "How many shares to make (1–255)." });
  const threshold = fieldControl({ name: "secret_threshold", label: "Threshold", type: "number", value: 3, required: true, hint: "How many of them unseal the vault (at least 2 when there is more than one share)." });
  for (const input of [count, threshold]) {
    input.control.min = "1";
    input.control.max = "255";
  }
  const form = el(
    "form",
    { className: "form form-narrow" },
    el("p", {}, "The vault has no root key yet. Initializing makes one and splits it into key shares, which are shown once."),
    el("div", { className: "form-row" }, count.wrapper, threshold.wrapper),
    el("div", { className: "button-row" }, el("button", { type: "submit", className: "button button-primary" }, "Initialize the vault")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { secret_shares: count.read(), secret_threshold: threshold.read() };
    try {
      shares = await api("POST", "/api/v1/vault/sys/init", body);
      renderProblem(error, null);
      window.addEventListener("beforeunload", holdPage);
      shownState = null;
      await loadStatus();
    } catch (problem) {
      renderProblem(error, problem);
    }
  });
  return section("Initialize", form);
}

function unsealForm(status) {
  const share = fieldControl({ name: "key", label: "Key share", type: "password", required: true, hint: "One share at a time, hex or base64, as initializing answered it." });
  share.control.autocomplete = "off";
  const bar = el("progress", { id: "unseal-progress", max: String(status.secret_threshold), value: String(status.progress) });
  const label = el("span", { id: "unseal-progress-text" });
  const reset = el("button", { type: "button", className: "button" }, "Reset");
  progressParts = { bar, label, reset };
  const form = el(
    "form",
    { className: "form form-narrow" },
    el("div", { className: "field" }, el("label", { for: "unseal-progress", text: "Unseal progress" }), bar, label),
    share.wrapper,
    el("div", { className: "button-row" }, el("button", { type: "submit", className: "button button-primary" }, "Submit share"), reset),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await unseal({ key: share.read().trim() });
    share.control.value = "";
    share.control.focus();
  });
  reset.addEventListener("click", () => unseal({ reset: true }));
  showProgress(status);
  return section("Unseal", form);
}

function showProgress(status) {
  if (!progressParts) return;
  progressParts.bar.max = status.secret_threshold;
  progressParts.bar.value = status.progress;
  progressParts.label.textContent = `${status.progress} of ${status.secret_threshold} key shares given`;
  progressParts.reset.hidden = status.progress === 0;
}

async function unseal(body) {
  try {
    const status = await api("POST", "/api/v1/vault/sys/unseal", body);
    renderProblem(error, null);
    show(status);
  } catch (problem) {
    renderProblem(error, problem);
    await loadStatus();
  }
}

function sealActions() {
  const seal = el("button", { type: "button", className: "button button-danger" }, "Seal the vault");
  seal.addEventListener("click", async () => {
    const sure = await confirmDialog({
      title: "Seal the vault?",
      message: "Every replica forgets its keys at once: nothing in the vault can be read or changed until enough keepers unseal it again.",
      confirm: "Seal",
      danger: true,
    });
    if (sure && (await attempt(() => api("POST", "/api/v1/vault/sys/seal"), { success: "The vault is sealed" })) !== undefined) await loadStatus();
  });
  const rotate = el("button", { type: "button", className: "button" }, "Rotate the key-encryption key");
  rotate.addEventListener("click", async () => {
    const rotated = await attempt(() => api("POST", "/api/v1/vault/sys/rotate"));
    if (rotated) {
      toast(`New records are sealed with key-encryption key version ${rotated.kek_version}.`, "ok");
      await loadStatus();
    }
  });
  return section(
    "Seal",
    el("p", {}, "The vault is unsealed. Seal it at once if its keys may have leaked; rotate the key-encryption key routinely or after a replica's memory may have been read."),
    el("div", { className: "button-row" }, seal, rotate),
  );
}

function section(title, ...children) {
  const id = `section-${title.toLowerCase()}`;
  return el("section", { className: "section", "aria-labelledby": id }, el("h2", { id, text: title }), ...children);
}

function show(status) {
  renderStatus(status);
  const state = stateOf(status);
  if (state !== shownState) {
    shownState = state;
    progressParts = null;
    const actions = { uninitialized: initForm, sealed: () => unsealForm(status), unsealed: sealActions }[state]();
    fill(root, shares ? sharesNotice() : null, actions);
  } else {
    showProgress(status);
  }
}

async function loadStatus() {
  try {
    show(await api("GET", "/api/v1/vault/sys/seal-status"));
  } catch (problem) {
    renderProblem(error, problem);
  }
}

connect({ type: SEAL_EVENTS });
subscribe({ type: SEAL_EVENTS }, () => loadStatus());
onResync(() => loadStatus());
loadStatus();
