// The overview: every service's health and version (from the gateway, refreshed every few
// seconds) and the platform's latest events, live.
import { api } from "../api.js";
import { badge, el, formatTime } from "../dom.js";
import { connect, onResync, subscribe } from "../live.js";

const REFRESH_MS = 5000;
const MAX_EVENTS = 50;

// /api/v1/health answers 503 with the same report when a service is not ok.
async function health() {
  const response = await fetch("/api/v1/health", { headers: { accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok && response.status !== 503) throw new Error(`the gateway answered ${response.status}`);
  return response.json();
}

function checksCell(service) {
  if (service.error) return el("td", {}, el("span", { className: "failing", text: service.error }));
  const list = el("ul", { className: "checks" });
  for (const [name, value] of Object.entries(service.checks || {})) {
    list.append(el("li", { className: value === "ok" ? "" : "failing", text: `${name}: ${value}` }));
  }
  return el("td", {}, list);
}

function renderServices(report, versions) {
  const rows = Object.entries(report.services).map(([name, service]) => {
    const version = (versions && versions.services[name]) || {};
    return el(
      "tr",
      {},
      el("td", { text: name }),
      el("td", {}, badge(service.status)),
      el("td", { text: version.version || "—" }),
      el("td", { className: "num", text: `${Math.round(service.latency_ms)} ms` }),
      checksCell(service),
    );
  });
  document.getElementById("services").replaceChildren(...rows);
}

function renderSummary(kind, title, detail) {
  document.getElementById("summary").className = `summary summary-${kind}`;
  document.getElementById("summary-title").textContent = title;
  document.getElementById("summary-detail").textContent = detail;
  document.getElementById("checked-at").textContent = `Checked at ${new Date().toLocaleTimeString()}`;
}

let timer = null;

async function refresh() {
  clearTimeout(timer);
  try {
    const [report, versions] = await Promise.all([health(), api("GET", "/api/v1/version").catch(() => null)]);
    renderServices(report, versions);
    const failing = Object.entries(report.services).filter(([, s]) => s.status !== "ok").map(([n]) => n);
    if (failing.length === 0) {
      const version = versions ? ` · version ${versions.version}` : "";
      renderSummary("ok", "All services are operational", `${Object.keys(report.services).length} services ready${version}`);
    } else {
      renderSummary("degraded", "The platform is degraded", `Needs attention: ${failing.join(", ")}`);
    }
  } catch (error) {
    renderSummary("down", "The gateway cannot be reached", String(error.message || error));
  } finally {
    timer = setTimeout(refresh, REFRESH_MS);
  }
}

function addEvent(event) {
  const body = document.getElementById("events");
  body.querySelector("td.empty")?.parentElement?.remove();
  body.prepend(
    el(
      "tr",
      {},
      el("td", { className: "num", text: event.sequence }),
      el("td", { text: formatTime(event.time) }),
      el("td", { className: "mono", text: event.type }),
      el("td", { text: event.namespace || "—" }),
      el("td", { className: "mono", text: event.subject || "—" }),
    ),
  );
  while (body.rows.length > MAX_EVENTS) body.deleteRow(body.rows.length - 1);
}

document.getElementById("refresh").addEventListener("click", refresh);
refresh();
subscribe({}, addEvent);
onResync(() => {
  document.getElementById("events").replaceChildren(el("tr", {}, el("td", { colspan: "5", className: "empty", text: "Events were missed while offline; showing new ones from now." })));
});
connect({});
