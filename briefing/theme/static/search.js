// Pagefind's UI, with filters for entity kinds and topics (set on article pages at build time).
window.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("search");
  if (!el || typeof PagefindUI === "undefined") return;
  new PagefindUI({ element: "#search", showSubResults: true, showImages: false,
                   bundlePath: el.dataset.base + "pagefind/" });
  var q = new URLSearchParams(window.location.search).get("q");
  if (q) {
    var input = el.querySelector("input");
    if (input) { input.value = q; input.dispatchEvent(new Event("input", { bubbles: true })); }
  }
});
