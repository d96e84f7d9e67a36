// The set-password page: takes the token of a recovery or first-administrator link from the URL
// fragment (which browsers never send to a server) and sets the password with it, on the same
// origin. The token and the password only ever go into the body of that one request: never into a
// URL, the history or the console. Everything shown is set as text, never parsed as HTML.
"use strict";

(() => {
  const RESET_URL = "/api/v1/auth/password/reset";

  const form = document.getElementById("password-form");
  const fields = document.getElementById("fields");
  const password = document.getElementById("new-password");
  const repeat = document.getElementById("repeat-password");
  const show = document.getElementById("show-passwords");
  const submit = document.getElementById("submit");
  const message = document.getElementById("message");
  const noToken = document.getElementById("no-token");
  const next = document.getElementById("signed-in-next");
  const signIn = document.getElementById("sign-in");

  let token = null;

  // `#token=…`, then the fragment is dropped from the address bar and this history entry, so the
  // token is not left behind for whoever uses the browser next.
  function takeToken() {
    const found = new URLSearchParams(window.location.hash.slice(1)).get("token");
    if (window.location.hash) {
      history.replaceState(history.state, "", window.location.pathname + window.location.search);
    }
    return found && found.trim() ? found.trim() : null;
  }

  function say(kind, text) {
    message.className = "message" + (text ? " message-" + kind : "");
    message.textContent = text;
  }

  function markInvalid(field, invalid) {
    if (invalid) field.setAttribute("aria-invalid", "true");
    else field.removeAttribute("aria-invalid");
  }

  function withoutToken() {
    token = null;
    fields.disabled = true;
    noToken.hidden = false;
  }

  function withToken(found) {
    token = found;
    noToken.hidden = true;
    next.hidden = true;
    say("", "");
    fields.disabled = false;
    password.focus();
  }

  function load() {
    const found = takeToken();
    if (found) withToken(found);
    else if (token === null) withoutToken();
  }

  // A problem+json answer (RFC 9457) as one sentence: its title and detail, or the messages of
  // its invalid fields when it has no detail.
  async function problemOf(response) {
    let problem = null;
    try {
      problem = await response.json();
    } catch (_) {
      problem = null;
    }
    if (!problem || typeof problem !== "object") problem = {};
    const title = typeof problem.title === "string" ? problem.title : "";
    let detail = typeof problem.detail === "string" ? problem.detail : "";
    const errors = Array.isArray(problem.errors) ? problem.errors : [];
    if (!detail) detail = errors.map((e) => e && e.message).filter(Boolean).join("; ");
    let text = [title, detail].filter(Boolean).join(": ");
    if (!text) text = "The platform answered with status " + response.status + ". Try again in a moment";
    if (!/[.!?]$/.test(text)) text += ".";
    const aboutPassword =
      problem.code === "weak_password" ||
      errors.some((e) => e && Array.isArray(e.location) && e.location.includes("new_password"));
    return { code: problem.code, text, aboutPassword };
  }

  function succeeded() {
    token = null;
    password.value = "";
    repeat.value = "";
    fields.disabled = true;
    say("ok", "Your password is set. You can now sign in with your new password.");
    next.hidden = false;
    signIn.focus();
  }

  function failed(problem) {
    say("error", problem.text);
    if (problem.code === "invalid_recovery_token") {
      // Used, expired or never issued: retrying cannot help, only a new link can.
      withoutToken();
      message.focus();
      return;
    }
    fields.disabled = false;
    if (problem.aboutPassword) {
      markInvalid(password, true);
      password.focus();
    } else {
      submit.focus();
    }
  }

  async function setPassword(event) {
    event.preventDefault();
    if (!token) {
      withoutToken();
      return;
    }
    markInvalid(password, false);
    markInvalid(repeat, false);
    if (password.value !== repeat.value) {
      markInvalid(repeat, true);
      say("error", "The two entries differ. Type the same new password in both fields.");
      repeat.focus();
      return;
    }
    fields.disabled = true;
    form.setAttribute("aria-busy", "true");
    say("info", "Setting your password…");
    let response;
    try {
      // A public route: no cookie or key is needed, so none is sent.
      response = await fetch(RESET_URL, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, application/problem+json" },
        body: JSON.stringify({ token: token, new_password: password.value }),
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
      });
    } catch (_) {
      failed({ code: null, text: "The platform cannot be reached. Check the connection and try again.", aboutPassword: false });
      return;
    } finally {
      form.removeAttribute("aria-busy");
    }
    if (response.status === 204) succeeded();
    else failed(await problemOf(response));
  }

  show.addEventListener("change", () => {
    const type = show.checked ? "text" : "password";
    password.type = type;
    repeat.type = type;
  });
  for (const field of [password, repeat]) field.addEventListener("input", () => markInvalid(field, false));
  form.addEventListener("submit", setPassword);
  // Opening another link in this tab changes only the fragment: no new page load.
  window.addEventListener("hashchange", load);
  load();
})();
