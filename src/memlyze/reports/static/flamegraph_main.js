/* memlyze flame graph page, 8 of 8: page start-up: the header, the
 * memlyzeFlame object (on window) the tests drive, the first draw and the
 * redraw on resize. */

function renderHeader() {
  var cmd = meta.command ? String(meta.command) : "(unknown command)";
  document.title = "memlyze: " + cmd;
  byId("title").textContent = "memlyze \u2014 " + cmd;
  var facts = byId("facts");
  function fact(label, value) {
    var d = el("div");
    d.appendChild(el("dt", label));
    d.appendChild(el("dd", value));
    facts.appendChild(d);
  }
  fact("Command", cmd);
  fact("PID", meta.pid === undefined || meta.pid === null ? "-" : meta.pid);
  fact("Python", meta.python_version || "-");
  fact("Duration", duration(meta.duration_s));
  fact("Peak", human(meta.peak_bytes) + " at " + duration(meta.peak_time_s));
  if (meta.total_bytes !== undefined && meta.total_bytes !== null)
    fact("Selected", human(meta.total_bytes) + " in " + count(meta.total_count) + " allocation" +
      (meta.total_count === 1 ? "" : "s"));
  fact("Showing", meta.selection_label || meta.selection || "-");
  fact("Sampling", meta.sample_description || (meta.sampled ? "sampled" : "every allocation recorded"));
  if (meta.sampled) {
    var s = byId("sampling-note");
    s.textContent = "Sampled capture (" + (meta.sample_description || "sampled") +
      "): byte and count figures are estimates of the whole.";
    s.hidden = false;
  }
  var notes = [];
  if (meta.aggregated && meta.aggregate_note) notes.push(meta.aggregate_note);
  if (meta.ring_note) notes.push(meta.ring_note);
  if (meta.capture_truncated)
    notes.push("The capture is truncated" + (meta.truncation_note ? " (" + meta.truncation_note + ")" :
      ": the recording process did not finish writing it") + ".");
  if (meta.truncated) notes.push(foldedNote());
  if (notes.length) {
    var t = byId("truncation-note");
    t.textContent = notes.join(" ");
    t.hidden = false;
  }
  byId("flame-heading").textContent = inverted ?
    "Icicle graph (inverted: allocating functions on top, their callers below)" : "Flame graph";
}

// What was folded into "other" frames, in the words of the page.
function foldedNote() {
  var frames = +meta.folded_count || 0, bytes = +meta.folded_bytes || 0;
  var why = meta.min_share > 0 ?
    " (--min-share " + (100 * meta.min_share).toFixed(2).replace(/\.?0+$/, "") + "%)" :
    " to keep this page under its frame budget";
  return count(frames) + " frame" + (frames === 1 ? "" : "s") + " under " +
    human(meta.other_threshold_bytes) + " folded into \u201cother\u201d" + why + ", holding " +
    human(bytes) + " (" + pct(bytes, meta.total_bytes) + " of the selection).";
}

function state() {
  return {
    nodeCount: n,
    zoom: zoomNode,
    zoomName: n ? fname(zoomNode) : "",
    totalBytes: n ? val[0] : 0,
    viewBytes: n ? val[zoomNode] : 0,
    search: searchText,
    matchedBytes: matchedBytes,
    matchedFraction: n && val[0] > 0 && matchStr !== null ? matchedBytes / val[0] : 0,
    matchedFrames: matchedFrames,
    inverted: inverted,
    range: rangeInfo ? { t0: rangeInfo.t0, t1: rangeInfo.t1 } : null,
    controls: controlState(),
    canvas: { width: width, height: height, rows: maxDepthShown + 1 }
  };
}
function findNodes(name) {
  var out = [];
  for (var i = 0; i < n; i++) if (fname(i) === name && val[i] > 0) out.push(i);
  out.sort(function (a, b) { return val[b] - val[a]; });
  return out;
}
function frame(i) {
  if (i < 0 || i >= n) return null;
  return { index: i, function: fname(i), file: str(FILE[i]), line: LINE[i] | 0, parent: parent[i],
           depth: depth[i], bytes: val[i], count: cnt[i] };
}

window.memlyzeFlame = {
  search: search,
  zoom: zoom,
  reset: function () { return zoom(0); },
  state: state,
  nodeRect: nodeRect,
  findNodes: findNodes,
  frame: frame,
  drawn: function () { return drawnBoxes.slice(); },
  selectRange: selectRange,
  clearRange: clearRange,
  setThread: setThread,
  setHideImport: setHideImport,
  setHideInterpreter: setHideInterpreter
};

renderHeader();
setupControls();
byId("selection-label").textContent = selectionText();
layout();
if (!n || !(val[0] > 0)) {
  var empty = byId("empty-note");
  empty.textContent = "No memory in this selection: nothing to draw.";
  empty.hidden = false;
}
drawChart();
setupTemporal();
renderBreadcrumb();
draw();
var resizeTimer = 0;
window.addEventListener("resize", function () {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(function () { drawChart(); draw(); }, 100);
});
document.documentElement.setAttribute("data-ready", "true");
