// The console's chrome: the theme switch, the account menu (who is signed in, signing out) and the
// navigation toggle of narrow screens.
import { api, toast } from "./api.js";
import { disconnect } from "./live.js";

const THEME_KEY = "assay-theme";

function applyTheme(choice) {
  const root = document.documentElement;
  if (choice === "light" || choice === "dark") root.dataset.theme = choice;
  else delete root.dataset.theme;
}

function storedTheme() {
  try {
    return window.localStorage.getItem(THEME_KEY);
  } catch (_) {
    return null;
  }
}

function setUpThemeSwitch() {
  const select = document.getElementById("theme-choice");
  if (!select) return;
  const stored = storedTheme();
  select.value = ["light", "dark", "auto"].includes(stored) ? stored : document.documentElement.dataset.defaultTheme || "auto";
  select.addEventListener("change", () => {
    applyTheme(select.value);
    try {
      window.localStorage.setItem(THEME_KEY, select.value);
    } catch (_) {
      // Not remembered, but applied to this page.
    }
  });
}

/** Signs out (POST /api/v1/auth/logout) and goes to the sign-in page. */
export async function signOut() {
  disconnect();
  try {
    await api("POST", "/api/v1/auth/logout");
  } catch (error) {
    toast(error, "error");
    return;
  }
  window.location.assign("/login");
}

async function showAccount() {
  const name = document.getElementById("account-name");
  if (!name) return;
  try {
    const me = await api("GET", "/api/v1/auth/whoami");
    name.textContent = me.user ? me.user.display_name || me.user.email : me.principal.id;
  } catch (_) {
    // The label stays "Account"; the menu works without it.
  }
}

function setUpNavToggle() {
  const toggle = document.getElementById("nav-toggle");
  const sidebar = document.getElementById("sidebar");
  if (!toggle || !sidebar) return;
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    sidebar.classList.toggle("open", open);
  });
}

setUpThemeSwitch();
setUpNavToggle();
document.getElementById("sign-out")?.addEventListener("click", signOut);
showAccount();
