// The API keys of one user (`?user=`; the administrator's own without one): revoke them, or make
// a new one whose secret is shown once.
import { el, fill } from "../../dom.js";
import { renderProblem } from "../../api.js";
import { createApiKey, showApiKeys, userFilter } from "./shared.js";

const root = document.getElementById("page-root");
const error = document.getElementById("page-error");
const newKey = document.getElementById("new-key");
const secretBox = document.getElementById("new-key-secret");
let shown = null;

async function show(user) {
  shown = user;
  newKey.disabled = false;
  try {
    await showApiKeys(user.id, root);
  } catch (problem) {
    fill(root, el("p", { className: "empty", text: "The API keys could not be loaded." }));
    renderProblem(error, problem);
  }
}

newKey.addEventListener("click", async () => {
  if (shown && (await createApiKey(shown, secretBox))) await show(shown);
});
function none() {
  shown = null;
  newKey.disabled = true;
}

userFilter({ form: document.getElementById("user-filter"), input: document.getElementById("user"), summary: document.getElementById("chosen-user"), root, show, none });
