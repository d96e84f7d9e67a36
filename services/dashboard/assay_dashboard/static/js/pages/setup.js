// The first run: creates the platform's first administrator while it has no user, then signs in
// as them.
import { api, ApiError } from "../api.js";
import { say } from "../dom.js";

const form = document.getElementById("setup-form");
const fields = document.getElementById("setup-fields");
const message = document.getElementById("setup-message");
const email = document.getElementById("setup-email");
const name = document.getElementById("setup-name");
const password = document.getElementById("setup-password");
const repeat = document.getElementById("setup-repeat");

function alreadySetUp() {
  form.hidden = true;
  document.getElementById("setup-done").hidden = false;
}

async function submit(event) {
  event.preventDefault();
  repeat.removeAttribute("aria-invalid");
  if (password.value !== repeat.value) {
    repeat.setAttribute("aria-invalid", "true");
    say(message, "error", "The two passwords differ. Type the same password in both fields.");
    repeat.focus();
    return;
  }
  fields.disabled = true;
  say(message, "info", "Creating the administrator…");
  const address = email.value.trim();
  try {
    await api("POST", "/api/v1/auth/setup", { email: address, display_name: name.value.trim(), password: password.value });
  } catch (error) {
    fields.disabled = false;
    if (error instanceof ApiError && error.code === "already_set_up") alreadySetUp();
    say(message, "error", error instanceof ApiError ? error.sentence : String(error));
    message.focus();
    return;
  }
  try {
    await api("POST", "/api/v1/auth/login", { email: address, password: password.value });
    window.location.assign("/");
  } catch (error) {
    say(message, "ok", "The administrator is created. Sign in with the new account.");
    window.location.assign("/login");
  }
}

async function start() {
  try {
    const setup = await api("GET", "/api/v1/auth/setup");
    if (!setup.needed) {
      alreadySetUp();
      return;
    }
  } catch (error) {
    say(message, "error", error instanceof ApiError ? error.sentence : String(error));
    return;
  }
  form.hidden = false;
  fields.disabled = false;
  email.focus();
}

form.addEventListener("submit", submit);
start();
