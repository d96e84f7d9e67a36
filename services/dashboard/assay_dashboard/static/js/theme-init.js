// Applies the chosen theme before the page paints (a classic script in <head>, so it runs before
// the body is drawn). The choice is `localStorage["assay-theme"]` (light, dark or auto), else the
// console's default (`data-default-theme`). `auto` leaves the theme to the system (the stylesheet
// follows prefers-color-scheme); light and dark are set as `data-theme` on <html>.
"use strict";
(function () {
  var root = document.documentElement;
  var choice = root.getAttribute("data-default-theme") || "auto";
  try {
    var stored = window.localStorage.getItem("assay-theme");
    if (stored === "light" || stored === "dark" || stored === "auto") choice = stored;
  } catch (_) {
    // Storage may be switched off; the default stands.
  }
  if (choice === "light" || choice === "dark") root.setAttribute("data-theme", choice);
  else root.removeAttribute("data-theme");
})();
