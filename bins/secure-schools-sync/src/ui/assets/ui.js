// secure-schools-sync web UI: the one script. Every page works without it; it only keeps two kinds of region
// up to date by long-polling the daemon (each request waits until something changes, so nothing is polled in a
// tight loop):
//   [data-live-url]  the user-sync status: replaced by the fragment the URL answers once the version moves;
//   [data-wait-url]  a device-code sign-in in progress: the page reloads once its state moves.
"use strict";
(function () {
  function later(fn) { window.setTimeout(fn, 5000); } // only after a network error
  function live(region) {
    var url = region.getAttribute("data-live-url");
    var version = region.getAttribute("data-version") || "0";
    fetch(url + "?after=" + encodeURIComponent(version), { credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 204) { return null; }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        if (html !== null) {
          var box = document.createElement("div");
          box.innerHTML = html;
          var fresh = box.querySelector("[data-live-url]");
          if (fresh) { region.replaceWith(fresh); region = fresh; }
        }
        live(region);
      })
      .catch(function () { later(function () { live(region); }); });
  }
  function wait(region) {
    fetch(region.getAttribute("data-wait-url"), { credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 204) { wait(region); return; }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        window.location.reload();
      })
      .catch(function () { later(function () { wait(region); }); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-url]").forEach(live);
    document.querySelectorAll("[data-wait-url]").forEach(wait);
    document.documentElement.classList.add("js");
  });
})();
