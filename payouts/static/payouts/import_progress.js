// Polls the import's progress JSON and updates the bar without reloading (no inline scripts: CSP).
// While the worker checks a large file, the page reloads once the check is over, to show the preview.
(function () {
  "use strict";
  function start() {
    var box = document.getElementById("import-progress");
    if (!box || box.dataset.finished === "true") { return; }
    var checking = box.dataset.checking === "true";
    var bar = document.getElementById("progress-bar");
    var percent = document.getElementById("progress-percent");
    var text = document.getElementById("progress-text");
    var status = document.getElementById("import-status");
    function show(p) {
      bar.value = p.percent;
      percent.textContent = p.percent + "%";
      status.textContent = p.status_display;
      if (p.checking) {
        text.textContent = p.checked_rows + " rows checked so far.";
        return;
      }
      var eta = p.eta_seconds === null ? "" : ", about " + p.eta_seconds + " s left";
      var rate = p.rate_per_second === null ? "" : ", " + p.rate_per_second + " rows/s";
      text.textContent = "Done " + p.done + " (created " + p.created + ", linked " + p.linked + "), failed " +
        p.failed + ", cancelled " + p.cancelled + ", remaining " + p.remaining + rate + eta + ".";
      if (p.failed > 0) { document.getElementById("failed-rows-link").hidden = false; }
    }
    function poll() {
      fetch(box.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (p) {
          if (checking && !p.checking) { window.location.reload(); return; }
          show(p);
          if (p.finished) { box.dataset.finished = "true"; } else { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    poll();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
