(function () {
  "use strict";
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  // The index: filter the rendered list by free text and theme (without JS it all shows).
  var form = document.getElementById("filter");
  if (form) {
    var query = form.elements.namedItem("q");
    var theme = form.elements.namedItem("tema");
    var items = Array.prototype.slice.call(document.querySelectorAll("[data-search]"));
    var texts = items.map(function (item) { return fold(item.getAttribute("data-search")); });
    var status = document.getElementById("filter-status");
    var none = document.getElementById("filter-none");
    var params = new URLSearchParams(window.location.search);
    if (params.has("q")) { query.value = params.get("q"); }
    if (params.has("tema")) { theme.value = params.get("tema"); }
    if (theme.selectedIndex < 0) { theme.value = ""; }

    var apply = function (remember) {
      var words = fold(query.value).split(/\s+/).filter(Boolean);
      var wanted = theme.value;
      var shown = 0;
      items.forEach(function (item, index) {
        var themes = (item.getAttribute("data-themes") || "").split(" ");
        var match = (!wanted || themes.indexOf(wanted) >= 0) &&
          words.every(function (word) { return texts[index].indexOf(word) >= 0; });
        item.hidden = !match;
        if (match) { shown += 1; }
      });
      status.textContent = "Visar " + shown + " av " + items.length + " dataset.";
      none.hidden = shown > 0;
      if (remember) {
        var next = new URLSearchParams();
        if (query.value) { next.set("q", query.value); }
        if (wanted) { next.set("tema", wanted); }
        var search = next.toString();
        try {
          window.history.replaceState(null, "", (search ? "?" + search : window.location.pathname) + window.location.hash);
        } catch (error) { /* a file:// page may refuse; the filter still works */ }
      }
    };
    form.addEventListener("input", function () { apply(true); });
    form.addEventListener("change", function () { apply(true); });
    form.addEventListener("submit", function (event) { event.preventDefault(); apply(true); });
    form.addEventListener("reset", function () { window.setTimeout(function () { apply(true); }, 0); });
    form.hidden = false;
    status.hidden = false;
    apply(false);
  }

  // A dataset page: open the files of the version an anchor (#v1.2.0) points at.
  var openTarget = function () {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    if (target && target.classList.contains("version")) {
      Array.prototype.forEach.call(target.querySelectorAll("details"), function (details) {
        details.open = true;
      });
    }
  };
  window.addEventListener("hashchange", openTarget);
  openTarget();
}());
