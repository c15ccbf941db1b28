// Exchanges the API key (or JWT) for a short-lived HttpOnly session cookie, then opens the dashboard.
// The key is sent once, in a header, to POST /api/v1/session; it is never stored by this page.
"use strict";

// The input has no name and the button stays disabled until this script runs, so the form can never be
// submitted natively (which would put the key in a URL).
const form = document.getElementById("login");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("credential");
  const value = input.value.trim();
  const headers = value.startsWith("sa_") ? { "X-API-Key": value } : { Authorization: `Bearer ${value}` };
  input.value = "";
  const out = document.getElementById("login-error");
  try {
    const response = await fetch("/api/v1/session", { method: "POST", headers, credentials: "same-origin" });
    if (response.ok) {
      location.href = "/";
      return;
    }
    const problem = await response.json();
    out.textContent = `sign-in refused: ${problem.detail}`;
  } catch (err) {
    out.textContent = `sign-in failed: ${err}`;
  }
});
form.querySelector("button[type=submit]").disabled = false;
form.dataset.ready = "yes";
