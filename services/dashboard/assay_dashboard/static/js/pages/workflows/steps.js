// The Steps tab: a run's `pipeline_state` query (`{status, current_step, steps: [{name, status,
// started_at?, completed_at?, actions?, expires_at?}], log: [{time, msg, step?}]}`) as circles, one
// per step, with a button for each action a waiting step offers (sent as the `step_action` signal
// `{step, action, user}`), a countdown to a running step's `expires_at`, and the log, which a
// click on a step filters to that step. Updates change only the steps that changed and append
// the new log entries.
import { toast } from "../../api.js";
import { el, formatDuration, formatTime } from "../../dom.js";
import { callerName, isOpen } from "./common.js";

const GLYPHS = { done: "✓", failed: "✕", cancelled: "–", skipped: "–" };

/** How a step is shown: a closed run has no running or waiting step left. */
function shownStatus(step, run) {
  if (isOpen(run)) return step.status;
  if (step.status === "running") return run.status === "FAILED" || run.status === "TIMED_OUT" ? "failed" : "cancelled";
  return step.status === "waiting" ? "skipped" : step.status;
}

function remaining(expiresAt) {
  const seconds = Math.round((new Date(expiresAt).getTime() - Date.now()) / 1000);
  return seconds > 0 ? `expires in ${formatDuration(seconds)}` : "expired";
}

/** `{node, update(pipeline, run)}`; `send(payload)` signals `step_action` (async). */
export function pipelineView(send) {
  const list = el("ol", { className: "wf-pipeline", "aria-label": "Steps" });
  const filterNote = el("p", { className: "hint", "aria-live": "polite" });
  const showAll = el("button", { type: "button", className: "button button-small", hidden: true }, "Show every step");
  const log = el("ol", { className: "wf-step-log-entries", tabindex: "0", "aria-labelledby": "step-log-title" });
  const node = el(
    "div",
    { className: "wf-steps" },
    list,
    el("section", { className: "section wf-step-log", "aria-labelledby": "step-log-title" }, el("div", { className: "section-header" }, el("h2", { id: "step-log-title", text: "Log" }), showAll), filterNote, log),
  );
  const shown = new Map(); // step name → {item, signature}
  let filter = null;
  let logLength = 0;
  let ticking = null;

  function applyFilter() {
    for (const entry of log.children) entry.hidden = Boolean(filter) && entry.dataset.step !== filter;
    filterNote.textContent = filter ? `Entries of the step ${filter}.` : "";
    showAll.hidden = !filter;
    for (const [name, { item }] of shown) item.querySelector(".wf-step-button").setAttribute("aria-pressed", String(name === filter));
  }

  function choose(name) {
    filter = filter === name ? null : name;
    applyFilter();
  }

  async function act(button, step, action) {
    const buttons = button.parentElement.querySelectorAll("button");
    for (const b of buttons) b.disabled = true;
    try {
      await send({ step, action, user: await callerName() });
      toast(`Sent ${action} for ${step}`, "ok");
    } catch (problem) {
      toast(problem, "error");
      for (const b of buttons) b.disabled = false;
    }
  }

  function stepItem(step, index, status, run) {
    const actions = isOpen(run) && status === "running" && Array.isArray(step.actions) ? step.actions : [];
    const button = el(
      "button",
      { type: "button", className: "wf-step-button", "aria-pressed": String(step.name === filter), title: "Show this step's log entries" },
      el("span", { className: `wf-step-circle wf-step-${status}`, "aria-hidden": "true", text: GLYPHS[status] || String(index + 1) }),
      el("span", { className: "wf-step-name", text: step.name }),
      el("span", { className: "wf-step-status", text: status }),
    );
    button.addEventListener("click", () => choose(step.name));
    const times = [step.started_at ? `started ${formatTime(step.started_at)}` : "", step.completed_at ? `ended ${formatTime(step.completed_at)}` : ""].filter(Boolean).join(", ");
    const countdown = status === "running" && step.expires_at ? el("span", { className: "wf-countdown", role: "timer", dataset: { expiresAt: step.expires_at }, text: remaining(step.expires_at) }) : null;
    const row = actions.length
      ? el("div", { className: "button-row wf-step-actions" }, actions.map((action) =>
          el("button", { type: "button", className: `button button-small${action === "approve" ? " button-primary" : ""}`, "aria-label": `${action} ${step.name}`, on: { click: (event) => act(event.currentTarget, step.name, action) } }, action),
        ))
      : null;
    return el("li", { className: `wf-step wf-step-is-${status}`, dataset: { step: step.name } }, button, times ? el("span", { className: "hint", text: times }) : null, countdown, row);
  }

  function tick() {
    const timers = node.querySelectorAll(".wf-countdown");
    for (const timer of timers) timer.textContent = remaining(timer.dataset.expiresAt);
    if (!timers.length) {
      clearInterval(ticking);
      ticking = null;
    }
  }

  function update(pipeline, run) {
    const names = new Set(pipeline.steps.map((step) => step.name));
    for (const [name, { item }] of shown) {
      if (!names.has(name)) {
        item.remove();
        shown.delete(name);
      }
    }
    pipeline.steps.forEach((step, index) => {
      const status = shownStatus(step, run);
      const signature = JSON.stringify([step, status, run.status]);
      const known = shown.get(step.name);
      if (known && known.signature === signature) return;
      const item = stepItem(step, index, status, run);
      if (known) known.item.replaceWith(item);
      else list.append(item);
      shown.set(step.name, { item, signature });
    });
    const entries = Array.isArray(pipeline.log) ? pipeline.log : [];
    if (entries.length < logLength) {
      log.replaceChildren();
      logLength = 0;
    }
    for (const entry of entries.slice(logLength)) {
      log.append(el("li", { dataset: { step: entry.step || "" } }, el("span", { className: "muted wf-log-time", text: formatTime(entry.time) }), " ", entry.step ? el("span", { className: "chip", text: entry.step }) : null, " ", entry.msg));
    }
    logLength = entries.length;
    applyFilter();
    if (!ticking && node.querySelector(".wf-countdown")) ticking = setInterval(tick, 1000);
  }

  showAll.addEventListener("click", () => choose(filter));
  return { node, update };
}
