// Filter-as-you-type for the A-Z index pages. Without JavaScript the box stays hidden and the
// full list with its letter links is the page.
(function () {
  var box = document.querySelector("[data-filter-box]");
  var input = document.querySelector("[data-filter-input]");
  if (!box || !input) return;
  box.hidden = false;
  var items = Array.prototype.slice.call(document.querySelectorAll("[data-filter-item]"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("[data-filter-group]"));
  input.addEventListener("input", function () {
    var q = input.value.trim().toLowerCase();
    items.forEach(function (li) { li.hidden = q !== "" && li.dataset.name.indexOf(q) === -1; });
    groups.forEach(function (g) { g.hidden = !g.querySelector("[data-filter-item]:not([hidden])"); });
  });
})();
