/* memlyze flame graph page, 6 of 8: the temporal range selection (drag
 * across the chart): what was allocated in the range and still alive at its
 * end becomes the flame graph's values. */

var rangeInfo = null;

function showRange(t0, t1) {
  var r = byId("range-rect");
  if (!r || !chartGeom) return;
  if (t0 === null) { r.setAttribute("visibility", "hidden"); return; }
  var a = chartGeom.tx(t0), b = chartGeom.tx(t1);
  r.setAttribute("x", Math.min(a, b));
  r.setAttribute("width", Math.max(Math.abs(b - a), 1));
  r.setAttribute("visibility", "visible");
}

function selectRange(t0, t1) {
  if (!temporal) return null;
  var edges = arr(temporal.bucket_edges_s), nb = edges.length - 1;
  if (nb < 1) return null;
  t0 = +t0; t1 = +t1;
  if (t1 < t0) { var tmp = t0; t0 = t1; t1 = tmp; }
  var b0 = 0, b1 = 0;
  for (var b = 0; b < nb; b++) { if (edges[b] <= t0) b0 = b; if (edges[b] < t1) b1 = b; }
  if (b1 < b0) b1 = b0;
  var node = arr(temporal.node), ab = arr(temporal.alloc_bucket), fb = arr(temporal.free_bucket);
  var by = arr(temporal.bytes), ct = arr(temporal.count);
  var v = new Float64Array(n), c = new Float64Array(n);
  for (var k = 0; k < node.length; k++) {
    var a = ab[k];
    if (a < b0 || a > b1) continue;
    var f = fb[k];
    if (f !== -1 && f !== null && f <= b1) continue;
    var s = node[k] | 0;  // a source node: where it is in view
    if (s < 0 || s >= source.n || viewOf[s] < 0) continue;
    var i = viewOf[s];
    v[i] += +by[k] || 0;
    c[i] += +ct[k] || 0;
  }
  for (i = n - 1; i > 0; i--) { v[parent[i]] += v[i]; c[parent[i]] += c[i]; }
  val = v; cnt = c;
  rangeInfo = { t0: +edges[b0], t1: +edges[b1 + 1], b0: b0, b1: b1 };
  layout();
  var thread = threadLabel();
  byId("selection-label").textContent = (thread ? thread + ": " : "") + "allocated between " + duration(rangeInfo.t0) + " and " +
    duration(rangeInfo.t1) + " and still alive at " + duration(rangeInfo.t1) + ": " + human(val[0]);
  byId("range-clear").hidden = false;
  showRange(rangeInfo.t0, rangeInfo.t1);
  zoomNode = 0;
  renderBreadcrumb();
  search(searchText);  // redraws
  return { t0: rangeInfo.t0, t1: rangeInfo.t1, bytes: val[0] };
}

function clearRange() {
  val = baseVal; cnt = baseCnt; rangeInfo = null;
  layout();
  byId("selection-label").textContent = selectionText();
  byId("range-clear").hidden = true;
  showRange(null, null);
  zoomNode = 0;
  renderBreadcrumb();
  search(searchText);
}

function setupTemporal() {
  if (!temporal) return;
  byId("range-help").hidden = false;
  byId("range-clear").addEventListener("click", clearRange);
  var dragging = null;
  function timeAt(ev) {
    var box = chart.getBoundingClientRect(), gm = chartGeom;
    var x = (ev.clientX - box.left) * (gm.W / box.width);
    var s = (x - gm.L) / (gm.W - gm.L - gm.R) * gm.tmax;
    return Math.min(Math.max(s, 0), gm.tmax);
  }
  chart.addEventListener("mousedown", function (ev) {
    if (ev.button !== 0) return;
    dragging = { t0: timeAt(ev), x: ev.clientX };
    ev.preventDefault();
  });
  window.addEventListener("mousemove", function (ev) {
    if (!dragging) return;
    showRange(dragging.t0, timeAt(ev));
  });
  window.addEventListener("mouseup", function (ev) {
    if (!dragging) return;
    var d = dragging;
    dragging = null;
    if (Math.abs(ev.clientX - d.x) < 3) {
      if (rangeInfo) showRange(rangeInfo.t0, rangeInfo.t1); else showRange(null, null);
      return;
    }
    selectRange(d.t0, timeAt(ev));
  });
}
