/* vbench-cn leaderboard: the 中文/English switch and sortable tables. No dependencies. */
(function () {
  "use strict";
  var KEY = "vbench-cn-lang";

  function setLang(lang) {
    var root = document.documentElement;
    root.setAttribute("data-lang", lang);
    root.setAttribute("lang", lang === "zh" ? "zh-CN" : "en");
    try { window.localStorage.setItem(KEY, lang); } catch (e) { /* file:// storage may be off */ }
  }

  function initialLang() {
    var m = /[?&]lang=(en|zh)(?:&|$)/.exec(window.location.search);
    if (m) { return m[1]; }
    try {
      var saved = window.localStorage.getItem(KEY);
      if (saved === "en" || saved === "zh") { return saved; }
    } catch (e) { /* ignore */ }
    return "en";
  }

  function cellKey(row, index, type) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    if (type === "number") {
      var x = parseFloat(raw);
      return isNaN(x) ? null : x;
    }
    return raw === "" || raw === "\u2014" ? null : raw.toLowerCase();
  }

  function sortBy(th) {
    var table = th.closest("table");
    var body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var type = th.getAttribute("data-type") || "text";
    var current = th.getAttribute("aria-sort");
    var dir = current ? (current === "descending" ? "ascending" : "descending") : (type === "number" ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return { row: row, key: cellKey(row, index, type), i: i };
    });
    rows.sort(function (a, b) {
      if (a.key === null && b.key === null) { return a.i - b.i; }
      if (a.key === null) { return 1; }   /* missing values always last */
      if (b.key === null) { return -1; }
      var c = a.key < b.key ? -1 : (a.key > b.key ? 1 : 0);
      if (dir === "descending") { c = -c; }
      return c !== 0 ? c : a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setLang(initialLang());
    var toggle = document.getElementById("lang-toggle");
    if (toggle) {
      toggle.addEventListener("click", function () {
        setLang(document.documentElement.getAttribute("data-lang") === "zh" ? "en" : "zh");
      });
    }
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable thead th"), function (th) {
      th.setAttribute("tabindex", "0");
      th.addEventListener("click", function () { sortBy(th); });
      th.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortBy(th); }
      });
    });
  });
}());
