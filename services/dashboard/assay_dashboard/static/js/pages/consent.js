// The consent decision goes to the OIDC provider (POST /oauth2/consent) as a form, with the CSRF
// header the gateway needs for a signed-in browser's changes; the provider answers where to go
// next (a redirect, or JSON `{redirect_to}`).
import { cookie, CSRF_COOKIE, CSRF_HEADER } from "../api.js";
import { sameOriginPath, say } from "../dom.js";

const form = document.getElementById("consent-form");
const message = document.getElementById("consent-message");

async function decide(event) {
  event.preventDefault();
  const data = new URLSearchParams(new FormData(form));
  data.set("decision", event.submitter ? event.submitter.value : "deny");
  for (const button of form.querySelectorAll("button")) button.disabled = true;
  say(message, "info", "Sending your answer…");
  let response;
  try {
    response = await fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { [CSRF_HEADER]: cookie(CSRF_COOKIE), accept: "application/json" },
    });
  } catch (_) {
    response = null;
  }
  if (response && response.redirected) {
    window.location.assign(response.url);
    return;
  }
  const answer = response && response.ok ? await response.json().catch(() => ({})) : {};
  if (answer.redirect_to) {
    // The client's redirect URI is another origin by design: the provider checked it.
    window.location.assign(answer.redirect_to);
    return;
  }
  for (const button of form.querySelectorAll("button")) button.disabled = false;
  say(message, "error", response ? `The answer could not be recorded (status ${response.status}). Start again from the application.` : "The platform cannot be reached.");
  if (response && response.status === 401) window.location.assign(`/login?return_to=${encodeURIComponent(sameOriginPath(window.location.pathname + window.location.search))}`);
}

form?.addEventListener("submit", decide);
