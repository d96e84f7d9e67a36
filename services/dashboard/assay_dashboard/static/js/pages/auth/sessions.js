// The live sessions of one user (`?user=`; the administrator's own without one), each revocable,
// and all of them at once.
import { el, fill } from "../../dom.js";
import { renderProblem } from "../../api.js";
import { revokeAllSessions, showSessions, userFilter } from "./shared.js";

const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const revokeAll = document.getElementById("revoke-all");
let shown = null;

async function show(user) {
  shown = user;
  revokeAll.disabled = true;
  try {
    const sessions = await showSessions(user.id, root, () => show(user));
    revokeAll.disabled = sessions.length === 0;
  } catch (problem) {
    fill(root, el("p", { className: "empty", text: "The sessions could not be loaded." }));
    renderProblem(error, problem);
  }
}

revokeAll.addEventListener("click", () => shown && revokeAllSessions(shown.id, () => show(shown)));
document.getElementById("refresh").addEventListener("click", () => shown && show(shown));
function none() {
  shown = null;
  revokeAll.disabled = true;
}

userFilter({ form: document.getElementById("user-filter"), input: document.getElementById("user"), summary: document.getElementById("chosen-user"), root, show, none });
