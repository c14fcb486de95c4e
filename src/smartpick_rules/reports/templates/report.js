(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var filter = document.getElementById("filter");
  var tier = document.getElementById("tier");
  var toggle = document.getElementById("toggle");
  var count = document.getElementById("shown");
  var items = Array.prototype.slice.call(document.querySelectorAll("li[data-search]"));
  function apply() {
    var q = filter.value.trim().toLowerCase();
    var t = tier.value;
    var shown = 0;
    items.forEach(function (li) {
      var hit = (!q || li.getAttribute("data-search").indexOf(q) !== -1) && (!t || li.getAttribute("data-tier") === t);
      li.classList.toggle("hidden", !hit);
      if (hit) { shown += 1; }
    });
    count.textContent = String(shown);
  }
  filter.addEventListener("input", apply);
  tier.addEventListener("change", apply);
  toggle.addEventListener("click", function () {
    var open = toggle.getAttribute("data-open") !== "1";
    document.querySelectorAll("#list details.audit").forEach(function (d) { d.open = open; });
    toggle.setAttribute("data-open", open ? "1" : "0");
    toggle.textContent = open ? "Close all reasons" : "Open all reasons";
  });
  apply();
})();
