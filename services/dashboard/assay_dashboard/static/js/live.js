// Live events: one EventSource per tab on /api/v1/events/stream, shared by every part of the
// page. The page chooses the server-side filter once (`connect`); parts of the page subscribe with
// a client-side filter (`subscribe`). EventSource resumes by itself after a dropped connection
// (it sends Last-Event-ID); when the browser gives up (the stream answered an error), this module
// asks again with `last_event_id`, and when the cursor is too old (410) it starts afresh and tells
// subscribers to reload their data ("resync"). It drives the connection indicator in the header.

const STREAM = "/api/v1/events/stream";
const TYPES = "/api/v1/events/types";
const RETRY_MS = [1000, 2000, 5000, 10000, 30000];

const subscribers = new Set();
const resyncListeners = new Set();
let source = null;
let filter = {};
let lastEventId = null;
// Set when the stream was lost before this tab saw any event: it has no cursor to ask for what
// came meanwhile, so once connected again the page reloads what it shows.
let gap = false;
let attempts = 0;
let retryTimer = null;
let types = null;

/** Sets the connection indicator: "connecting", "live", "reconnecting" or "offline". */
function indicate(state, detail) {
  const labels = { connecting: "Connecting", live: "Live", reconnecting: "Reconnecting", offline: "Offline" };
  const node = document.getElementById("connection");
  if (!node) return;
  node.hidden = false;
  node.dataset.state = state;
  node.title = detail || "";
  const label = document.getElementById("connection-label");
  if (label) label.textContent = labels[state];
}

// Frames are named by their CloudEvents type, and EventSource hands named frames only to
// listeners of that name: so every type the stream carries gets a listener.
async function eventTypes() {
  if (types) return types;
  const response = await fetch(TYPES, { headers: { accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`the list of event types answered ${response.status}`);
  types = (await response.json()).types.map((known) => known.type);
  return types;
}

function streamUrl(withCursor) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, item);
  }
  if (withCursor && lastEventId !== null) params.set("last_event_id", lastEventId);
  const text = params.toString();
  return text ? `${STREAM}?${text}` : STREAM;
}

function matches(want, event) {
  for (const [key, value] of Object.entries(want || {})) {
    if (value === undefined || value === null || value === "") continue;
    if (key === "type") {
      const patterns = Array.isArray(value) ? value : [value];
      const ok = patterns.some((p) => (p.endsWith("*") ? event.type.startsWith(p.slice(0, -1)) : event.type === p));
      if (!ok) return false;
    } else if (key === "workflow_id") {
      if (!event.data || event.data.workflow_id !== value) return false;
    } else if (event[key] !== value) {
      return false;
    }
  }
  return true;
}

function deliver(message) {
  let event;
  try {
    event = JSON.parse(message.data);
  } catch (_) {
    return;
  }
  if (message.lastEventId) lastEventId = message.lastEventId;
  event.sequence = Number(message.lastEventId);
  for (const { want, handler } of subscribers) {
    if (matches(want, event)) handler(event);
  }
}

function resync(reason) {
  for (const listener of resyncListeners) listener(reason);
}

async function open(withCursor) {
  clearTimeout(retryTimer);
  if (source) source.close();
  indicate(attempts === 0 ? "connecting" : "reconnecting");
  let names;
  try {
    names = await eventTypes();
  } catch (error) {
    scheduleRetry(String(error.message || error));
    return;
  }
  const opened = new EventSource(streamUrl(withCursor), { withCredentials: true });
  source = opened;
  opened.onopen = () => {
    attempts = 0;
    indicate("live");
    if (gap) {
      gap = false;
      resync("reconnected");
    }
  };
  opened.onerror = () => {
    if (opened.readyState === EventSource.CONNECTING) indicate("reconnecting");
    else if (opened.readyState === EventSource.CLOSED) diagnose(opened);
  };
  for (const name of names) opened.addEventListener(name, deliver);
}

// The browser stopped retrying: the stream answered with an error. Ask once more, to read the
// status, then act on it.
async function diagnose(closed) {
  if (closed !== source) return;
  if (lastEventId === null) gap = true;
  const controller = new AbortController();
  let status = 0;
  try {
    const response = await fetch(streamUrl(true), { credentials: "same-origin", signal: controller.signal, headers: { accept: "text/event-stream" } });
    status = response.status;
  } catch (_) {
    status = 0;
  } finally {
    controller.abort();
  }
  if (status === 410) {
    // The stream no longer holds events after our cursor: start from now and reload.
    lastEventId = null;
    resync("expired");
    open(false);
  } else if (status === 401 || status === 403) {
    indicate("offline", status === 401 ? "Signed out" : "Your account cannot read the event stream");
  } else {
    scheduleRetry(status ? `the stream answered ${status}` : "the platform cannot be reached");
  }
}

function scheduleRetry(detail) {
  indicate("offline", detail);
  const delay = RETRY_MS[Math.min(attempts, RETRY_MS.length - 1)];
  attempts += 1;
  retryTimer = setTimeout(() => open(true), delay);
}

/**
 * Opens (or re-opens with a new filter) the tab's stream. `serverFilter`: `{namespace, service,
 * type: [..], subject, workflow_id}` as the gateway takes them. Changing the filter keeps the
 * cursor, so nothing between the two streams is missed.
 */
export function connect(serverFilter = {}) {
  const same = JSON.stringify(serverFilter) === JSON.stringify(filter);
  if (source && same && source.readyState !== EventSource.CLOSED) return;
  filter = { ...serverFilter };
  attempts = 0;
  open(true);
}

/**
 * Calls `handler(event)` for every event matching `want`: `{type: "assay.workflow.*" | [..],
 * namespace, subject, source, workflow_id}` (all optional). The event is the CloudEvent with its
 * stream `sequence`. Returns a function that unsubscribes.
 */
export function subscribe(want, handler) {
  const entry = { want, handler };
  subscribers.add(entry);
  return () => subscribers.delete(entry);
}

/** Calls `listener(reason)` when events may have been missed: reload the data shown. */
export function onResync(listener) {
  resyncListeners.add(listener);
  return () => resyncListeners.delete(listener);
}

/** Closes the stream (e.g. before signing out). */
export function disconnect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
  indicate("offline");
}
