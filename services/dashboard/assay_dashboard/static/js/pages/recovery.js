// Asking for a password-recovery email. The answer is the same whether or not the address is
// known, so the page says the same either way.
import { api, ApiError } from "../api.js";
import { say } from "../dom.js";

const form = document.getElementById("recovery-form");
const fields = document.getElementById("recovery-fields");
const email = document.getElementById("recovery-email");
const message = document.getElementById("recovery-message");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  fields.disabled = true;
  try {
    await api("POST", "/api/v1/auth/password/recovery", { email: email.value.trim() });
    say(message, "ok", "If the address belongs to an account, a link to set a new password is on its way. Check your email.");
  } catch (error) {
    fields.disabled = false;
    say(message, "error", error instanceof ApiError ? error.sentence : String(error));
  }
  message.focus();
});
fields.disabled = false;
