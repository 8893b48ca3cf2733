/* memlyze flame graph page, 4 of 8: search (substring or /regex/ over
 * function and file names, highlighted on the canvas) and the tooltip and
 * click-to-zoom of the canvas. */

var matchStr = null;      // Uint8Array over strings, or null: no search
var matchedBytes = 0, matchedFrames = 0;
var searchText = "";
var tooltip = byId("tooltip");

function isMatched(i) {
  return matchStr !== null && (matchStr[FN[i]] === 1 || matchStr[FILE[i]] === 1);
}

function makeMatcher(text) {
  var m = /^\/(.+)\/([a-z]*)$/.exec(text);
  if (m) {
    var flags = m[2].replace(/[gy]/g, "");
    var re = new RegExp(m[1], flags);  // may throw
    return function (s) { return re.test(s); };
  }
  var needle = text.toLowerCase();
  return function (s) { return s.toLowerCase().indexOf(needle) >= 0; };
}

function search(text) {
  searchText = text === undefined || text === null ? "" : String(text);
  if (searchBox.value !== searchText) searchBox.value = searchText;
  var out = byId("search-result");
  matchedBytes = 0;
  matchedFrames = 0;
  if (!searchText) {
    matchStr = null;
    out.textContent = "";
    draw();
    return 0;
  }
  var test;
  try {
    test = makeMatcher(searchText);
  } catch (err) {
    matchStr = null;
    out.textContent = "invalid regular expression";
    draw();
    return 0;
  }
  matchStr = new Uint8Array(S.length);
  for (var k = 1; k < S.length; k++) {
    if (typeof S[k] === "string" && test(S[k])) matchStr[k] = 1;
  }
  // Bytes of matched frames, not counting a frame inside a matched one twice.
  var covered = new Uint8Array(n);
  for (var i = 1; i < n; i++) {
    var m = isMatched(i);
    if (m && val[i] > 0) matchedFrames++;
    if (covered[parent[i]]) covered[i] = 1;
    else if (m) { covered[i] = 1; matchedBytes += val[i]; }
  }
  var fraction = val[0] > 0 ? matchedBytes / val[0] : 0;
  out.textContent = "matched: " + pct(matchedBytes, val[0]) + " of " + human(val[0]) +
    " (" + human(matchedBytes) + ", " + count(matchedFrames) + " frame" + (matchedFrames === 1 ? "" : "s") + ")";
  draw();
  return fraction;
}

function showTooltip(h, mx, my) {
  tooltip.textContent = "";
  var total = val[0];
  if (h.merged !== undefined) {
    var p = h.merged, sum = 0, k = 0;
    for (var c = childStart[p]; c < childStart[p + 1]; c++) {
      var ch = childList[c];
      if (val[ch] > 0 && val[ch] * width / val[zoomNode] < MIN_PX) { sum += val[ch]; k++; }
    }
    tooltip.appendChild(el("div", k + " small frames called from " + fname(p), "tip-func"));
    tooltip.appendChild(el("div", human(sum) + " (" + pct(sum, total) + " of total) \u2014 click to zoom in"));
  } else {
    var i = h.node;
    tooltip.appendChild(el("div", fname(i), "tip-func"));
    var w = where(i);
    if (w) tooltip.appendChild(el("div", w, "tip-file"));
    tooltip.appendChild(el("div", human(val[i]) + " (" + count(val[i]) + " bytes), " +
      count(cnt[i]) + " allocation" + (cnt[i] === 1 ? "" : "s")));
    var line = pct(val[i], total) + " of total";
    if (zoomNode !== 0) line += ", " + pct(val[i], val[zoomNode]) + " of " + fname(zoomNode);
    tooltip.appendChild(el("div", line));
    if (selfVal[i] > 0 && childStart[i + 1] > childStart[i])
      tooltip.appendChild(el("div", "allocated here directly: " + human(selfVal[i])));
  }
  tooltip.hidden = false;
  // mx, my: viewport coordinates (the tooltip is position: fixed)
  var tw = tooltip.offsetWidth, th = tooltip.offsetHeight;
  var vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
  var left = mx + 14, top = my + 14;
  if (left + tw > vw) left = Math.max(mx - tw - 14, 0);
  if (top + th > vh) top = Math.max(my - th - 14, 0);
  tooltip.style.left = left + "px";
  tooltip.style.top = top + "px";
}

function canvasPoint(ev) {
  var box = canvas.getBoundingClientRect();
  return { x: ev.clientX - box.left, y: ev.clientY - box.top };
}

canvas.addEventListener("mousemove", function (ev) {
  var pt = canvasPoint(ev);
  var h = hit(pt.x, pt.y);
  if (!h) { tooltip.hidden = true; return; }
  showTooltip(h, ev.clientX, ev.clientY);
});
canvas.addEventListener("mouseleave", function () { tooltip.hidden = true; });
canvas.addEventListener("click", function (ev) {
  var pt = canvasPoint(ev);
  var h = hit(pt.x, pt.y);
  if (!h) return;
  zoom(h.merged !== undefined ? h.merged : h.node);
  tooltip.hidden = true;
});
var searchBox = byId("search");
var searchTimer = 0;
searchBox.addEventListener("input", function () {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(function () { search(searchBox.value); }, 120);
});
searchBox.addEventListener("keydown", function (ev) {
  if (ev.key === "Enter") { clearTimeout(searchTimer); search(searchBox.value); }
  if (ev.key === "Escape") { searchBox.value = ""; search(""); }
});
