// The status page: asks the gateway (same origin) for every service's health and version, and
// shows live events. Everything shown is set as text, never parsed as HTML.
"use strict";

const REFRESH_MS = 5000;
const MAX_EVENTS = 50;

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function badge(state) {
  return element("span", state.replace("_", " "), "badge badge-" + state);
}

async function getJson(url) {
  const response = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
  // /api/v1/health answers 503 with the same report when a service is not ok.
  if (!response.ok && response.status !== 503) throw new Error(url + " answered " + response.status);
  return response.json();
}

function checksCell(service) {
  const cell = element("td");
  if (service.error) {
    cell.append(element("span", service.error, "failing"));
    return cell;
  }
  const list = element("ul", null, "checks");
  for (const [name, value] of Object.entries(service.checks || {})) {
    list.append(element("li", name + ": " + value, value === "ok" ? "" : "failing"));
  }
  cell.append(list);
  return cell;
}

function renderServices(health, versions) {
  const body = document.getElementById("services");
  const rows = Object.entries(health.services).map(([name, service]) => {
    const row = element("tr");
    const version = (versions && versions.services[name]) || {};
    row.append(element("td", name));
    const state = element("td");
    state.append(badge(service.status));
    row.append(state);
    row.append(element("td", version.version || "—"));
    row.append(element("td", Math.round(service.latency_ms) + " ms"));
    row.append(checksCell(service));
    return row;
  });
  body.replaceChildren(...rows);
}

function renderSummary(kind, title, detail) {
  document.getElementById("summary").className = "summary summary-" + kind;
  document.getElementById("summary-title").textContent = title;
  document.getElementById("summary-detail").textContent = detail;
  document.getElementById("checked-at").textContent = "Checked at " + new Date().toLocaleTimeString();
}

let timer = null;

async function refresh() {
  clearTimeout(timer);
  try {
    const [health, versions] = await Promise.all([
      getJson("/api/v1/health"),
      getJson("/api/v1/version").catch(() => null),
    ]);
    renderServices(health, versions);
    const failing = Object.entries(health.services).filter(([, s]) => s.status !== "ok").map(([n]) => n);
    if (failing.length === 0) {
      const version = versions ? " · version " + versions.version : "";
      renderSummary("ok", "All services are operational", Object.keys(health.services).length + " services ready" + version);
    } else {
      renderSummary("degraded", "The platform is degraded", "Needs attention: " + failing.join(", "));
    }
  } catch (error) {
    renderSummary("down", "The gateway cannot be reached", String(error.message || error));
  } finally {
    timer = setTimeout(refresh, REFRESH_MS);
  }
}

function addEvent(message) {
  let event;
  try {
    event = JSON.parse(message.data);
  } catch (_) {
    return;
  }
  document.getElementById("events-empty")?.remove();
  const body = document.getElementById("events");
  const row = element("tr");
  row.append(element("td", message.lastEventId));
  row.append(element("td", event.time ? new Date(event.time).toLocaleTimeString() : "—"));
  row.append(element("td", event.type));
  row.append(element("td", event.namespace || "—"));
  row.append(element("td", event.subject || "—"));
  body.prepend(row);
  while (body.rows.length > MAX_EVENTS) body.deleteRow(body.rows.length - 1);
}

function setStreamState(state, label) {
  const node = document.getElementById("events-state");
  node.className = "badge badge-" + state;
  node.textContent = label;
}

async function watchEvents() {
  // Frames are named by their CloudEvents type, so listen for every type in the catalogue.
  let types = [];
  try {
    const catalogue = await getJson("/api/v1/events/asyncapi.json");
    types = Object.values(catalogue.components.messages).map((m) => m.name);
  } catch (_) {
    setStreamState("unreachable", "unavailable");
    return;
  }
  const source = new EventSource("/api/v1/events/stream");
  source.onopen = () => setStreamState("ok", "live");
  source.onerror = () => setStreamState("not_ready", "reconnecting");
  for (const type of types) source.addEventListener(type, addEvent);
}

document.getElementById("refresh").addEventListener("click", refresh);
refresh();
watchEvents();
