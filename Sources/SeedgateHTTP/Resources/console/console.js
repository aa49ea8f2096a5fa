// Seedgate console: the little that needs a script. Every page works without it.
"use strict";

// Forms that change something big ask first.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

// A running task's page follows it: the progress bar moves, and the page reloads when it is final.
function follow(element) {
  const url = element.getAttribute("data-poll");
  const status = document.getElementById("task-status");
  const bar = document.getElementById("task-progress");
  const text = document.getElementById("task-progress-text");
  const tick = async () => {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.redirected || response.status === 401) { window.location.reload(); return; }
      if (response.ok) {
        const task = await response.json();
        if (bar) bar.value = task.progress;
        if (text) text.textContent = task.progress + "%";
        if (status) status.textContent = task.label;
        if (task.final) { window.location.reload(); return; }
      }
    } catch (error) {
      // A dropped connection: try again on the next tick.
    }
    window.setTimeout(tick, 1000);
  };
  window.setTimeout(tick, 1000);
}

document.querySelectorAll("[data-poll]").forEach(follow);

// An asset reviewed upstream has no thumbnail here: its type's icon stands in.
document.querySelectorAll("img[data-fallback]").forEach((image) => {
  const fallback = () => { image.replaceWith(document.createTextNode(image.getAttribute("data-fallback"))); };
  if (image.complete && image.naturalWidth === 0) fallback(); else image.addEventListener("error", fallback);
});
