// A payable's bank account: when the vendor changes, offer only that vendor's accounts, each said
// verified or not (the server refuses another vendor's account all the same). No inline scripts: CSP.
// The vendor is the admin's autocomplete (select2), which announces a choice through jQuery: a
// listener added with addEventListener would not hear it, one added with jQuery hears both.
(function () {
  "use strict";
  function start() {
    var vendor = document.getElementById("id_vendor");
    var account = document.getElementById("id_bank_account");
    if (!vendor || !account || !account.dataset.choicesUrl) { return; }
    function vendorChanged() {
      var url = account.dataset.choicesUrl + "?vendor=" + encodeURIComponent(vendor.value);
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (data) {
          var chosen = account.value;  // as it is now: an account picked while the answer was on its way stays
          while (account.options.length) { account.remove(0); }
          account.add(new Option(data.empty_label, ""));
          data.accounts.forEach(function (a) {
            var keep = String(a.id) === chosen;
            account.add(new Option(a.label, a.id, keep, keep));
          });
          var help = document.getElementById("id_bank_account_helptext");
          if (help && data.help_text) { help.textContent = data.help_text; }
          account.dispatchEvent(new Event("change"));
        })
        .catch(function () { /* keep the choices shown; the server checks the account on save */ });
    }
    if (window.django && window.django.jQuery) {
      window.django.jQuery(vendor).on("change", vendorChanged);
    } else {
      vendor.addEventListener("change", vendorChanged);
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
