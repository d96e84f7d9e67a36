// Signing in: email and password, or a passkey; then back to the page that sent the visitor here
// (`return_to`, same origin only). Links to the first-run page while the platform has no user.
import { api, ApiError } from "../api.js";
import { sameOriginPath, say } from "../dom.js";
import { getCredential, passkeysSupported } from "../webauthn.js";

const form = document.getElementById("login-form");
const fields = document.getElementById("login-fields");
const email = document.getElementById("email");
const password = document.getElementById("password");
const message = document.getElementById("login-message");
const passkey = document.getElementById("passkey");
const destination = sameOriginPath(form.dataset.returnTo);

function failed(error, wrongCredentials) {
  fields.disabled = false;
  form.removeAttribute("aria-busy");
  if (error instanceof ApiError && error.status === 401) {
    say(message, "error", wrongCredentials);
    password.value = "";
    password.type = "password";
    document.getElementById("show-password").checked = false;
    password.focus();
    return;
  }
  say(message, "error", error instanceof ApiError ? error.sentence : String(error.message || error));
  message.focus();
}

async function signIn(event) {
  event.preventDefault();
  fields.disabled = true;
  form.setAttribute("aria-busy", "true");
  say(message, "info", "Signing in…");
  try {
    await api("POST", "/api/v1/auth/login", { email: email.value.trim(), password: password.value });
  } catch (error) {
    failed(error, "Email or password is incorrect.");
    return;
  }
  window.location.assign(destination);
}

async function signInWithPasskey() {
  fields.disabled = true;
  say(message, "info", "Waiting for your passkey…");
  try {
    const body = email.value.trim() ? { email: email.value.trim() } : {};
    const options = await api("POST", "/api/v1/auth/passkeys/authentication/options", body);
    const credential = await getCredential(options);
    await api("POST", "/api/v1/auth/passkeys/authentication", { credential });
  } catch (error) {
    if (error && error.name === "NotAllowedError") {
      fields.disabled = false;
      say(message, "info", "Signing in with a passkey was cancelled.");
      return;
    }
    failed(error, "That passkey is not known here. Sign in with your password, then add the passkey.");
    return;
  }
  window.location.assign(destination);
}

async function offerSetup() {
  try {
    const setup = await api("GET", "/api/v1/auth/setup");
    document.getElementById("setup-needed").hidden = !setup.needed;
  } catch (_) {
    // Signing in works without knowing.
  }
}

document.getElementById("show-password").addEventListener("change", (event) => {
  password.type = event.target.checked ? "text" : "password";
});
form.addEventListener("submit", signIn);
if (passkeysSupported()) {
  passkey.hidden = false;
  passkey.addEventListener("click", signInWithPasskey);
}
fields.disabled = false;
email.focus();
offerSetup();
