// Keeps a page live: fetches the page's own fragment a few seconds after the last fetch
// ended (a slow answer never piles up fetches) and swaps it in,
// unless the server says it is unchanged (304 for the ETag last shown). A failed fetch is
// said in the header, and the last good content stays.
//
// Actions: the log-in answer hands over the session's CSRF token, kept in this origin's
// local storage (no other port's page can read it) and put into each form as it is posted;
// pages never carry it. Forms that would remove something ask first.
"use strict";
(function () {
  const session = document.getElementById("session");
  if (session && session.dataset.csrf) {
    window.localStorage.setItem("berth-csrf", session.dataset.csrf);
    window.location.replace("/instances");
  }
})();
document.addEventListener("submit", function (event) {
  const form = event.target;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  if (form.elements.csrf) form.elements.csrf.value = window.localStorage.getItem("berth-csrf") || "";
  if (form.getAttribute("action") === "/logout") window.localStorage.removeItem("berth-csrf");
});
(function () {
  const live = document.getElementById("live");
  const updated = document.getElementById("updated");
  if (!live || !updated || !live.dataset.every) return;
  const every = Number(live.dataset.every) || 3000;
  let shown = null;
  async function refresh() {
    const url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    url.hash = "";
    try {
      const response = await fetch(url, { cache: "no-store", headers: shown ? { "If-None-Match": shown } : {} });
      if (response.status !== 304) {
        if (!response.ok) throw new Error("HTTP " + response.status + ": " + (await response.text()).trim());
        live.innerHTML = await response.text();
        shown = response.headers.get("ETag");
      }
      updated.textContent = "updated " + new Date().toLocaleTimeString();
      updated.className = "muted";
    } catch (error) {
      updated.textContent = "not updated: " + error.message;
      updated.className = "bad";
    }
    window.setTimeout(refresh, every);
  }
  window.setTimeout(refresh, every);
})();
