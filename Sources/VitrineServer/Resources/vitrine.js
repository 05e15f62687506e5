// Vitrine's web UI script (served at /ui/vitrine.js): what the server-rendered page cannot do
// alone. A photo dropped, picked or chosen with the keyboard is posted to POST /api/v1/search/image
// and its results are drawn with the same markup the server renders (text set with textContent,
// never HTML); photo results page by posting the photo again; the filters re-run the current
// search. Errors show the API's error.message.
"use strict";
(function () {
  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  var main = document.getElementById("main");
  var searchForm = document.getElementById("search-form");
  var queryInput = document.getElementById("q");
  var category = document.getElementById("category");
  var market = document.getElementById("market");
  var drop = document.getElementById("drop");
  var fileInput = document.getElementById("image");
  var heading = document.getElementById("results-heading");
  var status = document.getElementById("status");
  var errorBox = document.getElementById("error");
  var list = document.getElementById("results");
  var empty = document.getElementById("empty");
  var pager = document.getElementById("pager");
  if (!main || !drop || !fileInput || !list) return;

  var perPage = parseInt(main.getAttribute("data-per-page"), 10) || 24;
  var accepted = ["image/jpeg", "image/png", "image/webp"];
  // The photo being searched, so paging and filters can post it again.
  var photo = null, photoURL = null, offset = 0, busy = false;

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.textContent = "";
    errorBox.hidden = true;
  }

  // The API's errors are {"error": {"code", "message"}}; anything else (a proxy's page, a
  // dropped connection) gets a generic sentence with the status.
  function errorMessage(response, body) {
    if (body && body.error && typeof body.error.message === "string") {
      var text = body.error.message;
      return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
    }
    return "The server answered " + response.status + " " + response.statusText + ".";
  }

  function filterQuery() {
    var parts = [];
    if (category && category.value) parts.push("category=" + encodeURIComponent(category.value));
    if (market && market.value) parts.push("market=" + encodeURIComponent(market.value));
    return parts.length ? "&" + parts.join("&") : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function card(result) {
    var item = el("li", "card");
    item.setAttribute("data-id", result.id);
    var img = el("img");
    img.src = result.image + "?w=256";
    img.alt = result.name;
    img.loading = "lazy";
    img.width = 256;
    img.height = 256;
    item.appendChild(img);
    item.appendChild(el("h2", "name", result.name));
    var meta = el("p", "meta");
    var pieces = [];
    if (result.category != null) pieces.push(el("span", "category", result.category));
    if (result.market != null) pieces.push(el("span", "market", result.market));
    pieces.forEach(function (piece, i) {
      if (i > 0) meta.appendChild(document.createTextNode(" · "));
      meta.appendChild(piece);
    });
    item.appendChild(meta);
    var score = el("p", "score", "score ");
    score.title = "cosine similarity";
    var value = el("data", null, result.score.toFixed(3));
    value.value = String(result.score);
    score.appendChild(value);
    item.appendChild(score);
    var more = el("a", "more", "More like this");
    more.href = "/?similar=" + encodeURIComponent(result.id) + filterQuery();
    more.appendChild(el("span", "visually-hidden", ": " + result.name));
    item.appendChild(more);
    return item;
  }

  function setHeading(text) {
    heading.textContent = "";
    if (photoURL) {
      var preview = el("img", "photo-preview");
      preview.src = photoURL;
      preview.alt = "";
      heading.appendChild(preview);
    }
    heading.appendChild(document.createTextNode(text));
  }

  function render(results) {
    var shown = results.slice(0, perPage);
    list.textContent = "";
    shown.forEach(function (result) { list.appendChild(card(result)); });
    status.textContent = shown.length ? "Results " + (offset + 1) + "–" + (offset + shown.length) + "." : "";
    empty.hidden = shown.length > 0;
    empty.textContent = shown.length ? "" :
      (offset > 0 ? "No more results." : "No products match this photo" + (filterQuery() ? " with these filters." : "."));
    pager.textContent = "";
    pager.hidden = !(offset > 0 || results.length > perPage);
    if (offset > 0) pager.appendChild(pageButton("← Previous", offset - perPage, "prev"));
    pager.appendChild(el("span", "page-number", "Page " + (Math.floor(offset / perPage) + 1)));
    if (results.length > perPage) pager.appendChild(pageButton("Next →", offset + perPage, "next"));
  }

  function pageButton(label, to, rel) {
    var button = el("button", "secondary", label);
    button.type = "button";
    button.setAttribute("data-rel", rel);
    button.addEventListener("click", function () { searchPhoto(photo, Math.max(0, to), true); });
    return button;
  }

  function searchPhoto(file, from, focusResults) {
    if (!file || busy) return;
    clearError();
    if (accepted.indexOf(file.type) < 0 && file.type !== "") {
      showError("“" + file.name + "” is not a JPEG, PNG or WebP photo.");
      return;
    }
    if (file !== photo) {
      if (photoURL) URL.revokeObjectURL(photoURL);
      photo = file;
      photoURL = URL.createObjectURL(file);
    }
    offset = from;
    busy = true;
    drop.classList.add("busy");
    drop.setAttribute("aria-busy", "true");
    status.textContent = "Searching…";
    var body = new FormData();
    body.append("image", file, file.name || "photo");
    var url = "/api/v1/search/image?k=" + Math.min(perPage + 1, 100) + "&offset=" + offset + filterQuery();
    fetch(url, { method: "POST", body: body, headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (json) {
          if (!response.ok || !json || !Array.isArray(json.results)) throw new Error(errorMessage(response, json));
          return json;
        });
      })
      .then(function (json) {
        queryInput.value = "";
        setHeading("Products like your photo");
        render(json.results);
        if (focusResults) heading.focus();
      })
      .catch(function (error) {
        status.textContent = "";
        showError(error instanceof TypeError ? "The server could not be reached: " + error.message : error.message);
      })
      .then(function () {
        busy = false;
        drop.classList.remove("busy");
        drop.removeAttribute("aria-busy");
      });
  }

  // The drop zone: a button for the keyboard (Enter or Space opens the file picker), a target
  // for drag and drop, and a click target.
  drop.addEventListener("click", function () { fileInput.click(); });
  drop.addEventListener("keydown", function (event) {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      fileInput.click();
    }
  });
  ["dragenter", "dragover"].forEach(function (type) {
    drop.addEventListener(type, function (event) {
      event.preventDefault();
      drop.classList.add("over");
    });
  });
  ["dragleave", "dragend"].forEach(function (type) {
    drop.addEventListener(type, function () { drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (event) {
    event.preventDefault();
    drop.classList.remove("over");
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) searchPhoto(files[0], 0, true);
  });
  // A photo dropped beside the zone would make the browser leave the page to show it.
  window.addEventListener("dragover", function (event) { event.preventDefault(); });
  window.addEventListener("drop", function (event) { event.preventDefault(); });
  fileInput.addEventListener("change", function () {
    if (fileInput.files && fileInput.files.length) searchPhoto(fileInput.files[0], 0, true);
    fileInput.value = "";
  });

  // Filters re-run what is on screen: the photo search here, a text or "more like this" search
  // through the form. On the start page with no words typed they just wait for a search.
  function filtersChanged() {
    if (photo) { searchPhoto(photo, 0, false); return; }
    var similar = searchForm.querySelector("input[name=similar]");
    if (queryInput.value.trim() || similar) searchForm.submit();
  }
  // Arrow keys change a closed select at once: a keyboard user applies filters with the Search
  // button instead of reloading on every step.
  var keyed = false;
  [category, market].forEach(function (select) {
    if (!select) return;
    select.addEventListener("keydown", function () { keyed = true; });
    select.addEventListener("mousedown", function () { keyed = false; });
    select.addEventListener("change", function () { if (!keyed) filtersChanged(); });
  });
  searchForm.addEventListener("submit", function () { photo = null; });
})();