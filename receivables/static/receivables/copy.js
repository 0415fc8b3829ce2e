// "Copy" next to a checkout page URL or a client secret (a static file: the CSP forbids inline script).
"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.ll-copy");
  if (!button) {
    return;
  }
  var source = document.getElementById(button.dataset.copy);
  if (!source) {
    return;
  }
  source.select();
  var done = function () { button.textContent = "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(source.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});
