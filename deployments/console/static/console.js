// A short poll keeps the first page of the queue and the journal live without a reload: the rows
// are fetched again every few seconds and swapped in (skipped while a control in them has focus).
(function () {
  "use strict";
  var SECONDS = 5;
  document.querySelectorAll("tbody[data-live]").forEach(function (body) {
    var url = body.getAttribute("data-live");
    setInterval(function () {
      if (document.hidden || body.contains(document.activeElement)) { return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { body.innerHTML = html; } })
        .catch(function () {});
    }, SECONDS * 1000);
  });
})();
