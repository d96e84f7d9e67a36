// Settings: the version and build every service runs (and its Python), from the gateway's
// /api/v1/version.
import { api, renderProblem } from "../api.js";
import { el, fill, table } from "../dom.js";

const root = document.getElementById("page-root");

async function loadVersions() {
  try {
    const found = await api("GET", "/api/v1/version");
    document.getElementById("platform-version").textContent = found.version;
    const rows = Object.entries(found.services).map(([name, service]) => ({ name, ...service }));
    const columns = [
      { label: "Service", value: (s) => s.name },
      { label: "Version", value: (s) => el("span", { className: "mono", text: s.version || "—" }) },
      { label: "Build", value: (s) => el("span", { className: "mono", text: s.build || "—" }) },
      { label: "Python", value: (s) => el("span", { className: "mono", text: s.python || "—" }) },
      { label: "Problem", value: (s) => (s.error ? el("span", { className: "failing", text: s.error }) : "—") },
    ];
    fill(root, table({ columns, rows, rowKey: (s) => s.name, caption: "Services" }));
  } catch (problem) {
    fill(root);
    renderProblem(document.getElementById("page-error"), problem);
  }
}

loadVersions();
