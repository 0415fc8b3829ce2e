// A payable's page while a payment is under way: polls the payable's status JSON, shows it, and
// reloads the page once it settles (paid, failed, back to approved), so its buttons fit the new
// status. Polls nothing when no payment is under way. No inline scripts: CSP.
(function () {
  "use strict";
  var EVERY_MS = 2000;
  var AFTER_ERROR_MS = 5000;
  function start() {
    var panel = document.getElementById("payable-panel");
    if (!panel || panel.dataset.inFlight !== "true") { return; }
    var badge = document.getElementById("payable-status");
    var next = document.getElementById("payable-next");
    function show(p) {
      badge.textContent = p.status_display;
      badge.className = "status status-" + p.status;
      if (next) { next.textContent = p.next; }
    }
    function poll() {
      fetch(panel.dataset.statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) {
          if (r.status >= 400 && r.status < 500) { return null; }  // signed out or gone: stop
          if (!r.ok) { throw new Error(String(r.status)); }
          return r.json();
        })
        .then(function (p) {
          if (p === null) { return; }
          show(p);
          if (p.in_flight) {
            window.setTimeout(poll, EVERY_MS);
          } else {
            panel.dataset.inFlight = "false";
            if (p.status !== panel.dataset.status) { window.location.reload(); }
          }
        })
        .catch(function () { window.setTimeout(poll, AFTER_ERROR_MS); });
    }
    window.setTimeout(poll, EVERY_MS);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
