/* memlyze flame graph page, 5 of 8: the memory-over-time chart (SVG):
 * tracked heap, RSS, GC collections and the peak. */

var SVGNS = "http://www.w3.org/2000/svg";

var chart = byId("chart");
var chartGeom = null;

function svg(tag, attrs, parentNode) {
  var e = document.createElementNS(SVGNS, tag);
  for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, String(attrs[k]));
  if (parentNode) parentNode.appendChild(e);
  return e;
}
function arr(a) { return Array.isArray(a) ? a : []; }

// Reduces a series to at most ~2 points per pixel column, keeping each
// column's minimum and maximum so that spikes (the peak) survive.
function reduceSeries(ts, vs, tx, cols) {
  var len = Math.min(ts.length, vs.length), pts = [];
  if (len <= cols * 2) {
    for (var k = 0; k < len; k++) pts.push([ts[k], vs[k]]);
    return pts;
  }
  var col = -1, lo = 0, hi = 0, loT = 0, hiT = 0;
  function flush() {
    if (col < 0) return;
    if (loT <= hiT) { pts.push([loT, lo]); if (hiT !== loT) pts.push([hiT, hi]); }
    else { pts.push([hiT, hi]); pts.push([loT, lo]); }
  }
  for (k = 0; k < len; k++) {
    var c = Math.floor(tx(ts[k]));
    var v = vs[k];
    if (c !== col) { flush(); col = c; lo = hi = v; loT = hiT = ts[k]; }
    else {
      if (v < lo) { lo = v; loT = ts[k]; }
      if (v > hi) { hi = v; hiT = ts[k]; }
    }
  }
  flush();
  return pts;
}

function niceStep(max, ticks) {
  var raw = max / ticks;
  var mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
  var norm = raw / mag;
  var step = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10;
  return step * mag;
}
function niceBytesStep(max, ticks) {
  var raw = max / ticks, unit = 1;
  while (raw / unit >= 1024 && unit < Math.pow(1024, 5)) unit *= 1024;
  return niceStep(max / unit, ticks) * unit;
}

function drawChart() {
  chart.textContent = "";
  var W = Math.max(chart.clientWidth, 200), H = Math.max(chart.clientHeight, 100);
  chart.setAttribute("viewBox", "0 0 " + W + " " + H);
  var L = 64, R = 12, T = 22, B = 20;
  var t = arr(timeline.time_s), heap = arr(timeline.heap_bytes);
  var rt = arr(timeline.rss_time_s), rss = arr(timeline.rss_bytes);
  var gc = arr(timeline.gc_time_s);
  var peakT = timeline.peak_time_s !== undefined && timeline.peak_time_s !== null ? +timeline.peak_time_s : meta.peak_time_s;
  var peakB = timeline.peak_bytes !== undefined && timeline.peak_bytes !== null ? +timeline.peak_bytes : meta.peak_bytes;
  var tmax = +meta.duration_s || 0, ymax = +peakB || 0, k;
  if (t.length) tmax = Math.max(tmax, +t[t.length - 1]);
  if (rt.length) tmax = Math.max(tmax, +rt[rt.length - 1]);
  if (gc.length) tmax = Math.max(tmax, +gc[gc.length - 1]);
  if (peakT) tmax = Math.max(tmax, +peakT);
  if (temporal && arr(temporal.bucket_edges_s).length)
    tmax = Math.max(tmax, +temporal.bucket_edges_s[temporal.bucket_edges_s.length - 1]);
  for (k = 0; k < heap.length; k++) if (heap[k] > ymax) ymax = heap[k];
  for (k = 0; k < rss.length; k++) if (rss[k] > ymax) ymax = rss[k];
  if (!(tmax > 0)) tmax = 1;
  if (!(ymax > 0)) ymax = 1;
  var step = niceBytesStep(ymax * 1.05, 4);
  ymax = Math.ceil(ymax * 1.05 / step) * step;
  var pw = W - L - R, ph = H - T - B;
  var tx = function (s) { return L + (s / tmax) * pw; };
  var ty = function (v) { return T + ph - (v / ymax) * ph; };
  chartGeom = { L: L, R: R, T: T, B: B, W: W, H: H, tmax: tmax, tx: tx };

  // grid and axes
  var g = svg("g", {}, chart);
  for (var yv = 0; yv <= ymax + step / 2; yv += step) {
    svg("line", { x1: L, x2: W - R, y1: ty(yv), y2: ty(yv), "class": "grid" }, g);
    var lab = svg("text", { x: L - 6, y: ty(yv) + 3, "text-anchor": "end", "class": "axis" }, g);
    lab.textContent = human(yv);
  }
  var tstep = niceStep(tmax, Math.max(Math.floor(pw / 90), 2));
  for (var xv = 0; xv <= tmax + tstep / 1e6; xv += tstep) {
    var xp = tx(xv);
    var anchor = xp - L < 30 ? "start" : W - R - xp < 30 ? "end" : "middle";
    var xl = svg("text", { x: xp, y: H - 5, "text-anchor": anchor, "class": "axis" }, g);
    xl.textContent = duration(xv);
  }
  // range selection (below the lines)
  var rangeRect = svg("rect", { id: "range-rect", x: 0, y: T, width: 0, height: ph, "class": "range", visibility: "hidden" }, chart);
  // GC ticks along the bottom
  if (gc.length) {
    var gg = svg("g", { id: "gc-ticks" }, chart), lastCol = -1;
    for (k = 0; k < gc.length; k++) {
      var gx = Math.round(tx(+gc[k]));
      if (gx === lastCol) continue;
      lastCol = gx;
      svg("line", { x1: gx, x2: gx, y1: T + ph - 8, y2: T + ph, "class": "gc" }, gg);
    }
  }
  function polyline(ts, vs, cls, area) {
    var pts = reduceSeries(ts, vs, tx, pw);
    if (!pts.length) return;
    var s = [];
    for (var q = 0; q < pts.length; q++) s.push(tx(+pts[q][0]).toFixed(1) + "," + ty(+pts[q][1]).toFixed(1));
    if (area) {
      svg("polygon", { points: tx(+pts[0][0]).toFixed(1) + "," + ty(0) + " " + s.join(" ") + " " +
        tx(+pts[pts.length - 1][0]).toFixed(1) + "," + ty(0), "class": cls + "-area" }, chart);
    }
    svg("polyline", { points: s.join(" "), "class": cls, id: cls + "-line" }, chart);
  }
  polyline(rt, rss, "rss", false);
  polyline(t, heap, "heap", true);

  // the peak
  if (peakT !== undefined && peakT !== null && !isNaN(peakT)) {
    var px = tx(+peakT), py = ty(+peakB || 0);
    var text = "peak " + human(peakB) + " at " + duration(peakT);
    var pg = svg("g", { id: "peak-marker", role: "img", "aria-label": text,
      "data-time-s": +peakT, "data-bytes": +peakB || 0 }, chart);
    var title = svg("title", {}, pg);
    title.textContent = text;
    svg("line", { x1: px, x2: px, y1: T - 4, y2: T + ph, "class": "peak-line" }, pg);
    svg("circle", { cx: px, cy: py, r: 4, "class": "peak-dot" }, pg);
    var right = px < L + pw * 0.7;
    var pl = svg("text", { x: right ? px + 6 : px - 6, y: T - 8, "text-anchor": right ? "start" : "end",
      "class": "peak-label", id: "peak-label" }, pg);
    pl.textContent = text;
  }
  var cap = [];
  if (peakB) cap.push("Tracked heap peaked at " + human(peakB) + " at " + duration(peakT) + " of " + duration(meta.duration_s));
  if (rss.length) {
    var rmax = 0;
    for (k = 0; k < rss.length; k++) if (rss[k] > rmax) rmax = rss[k];
    cap.push("RSS up to " + human(rmax));
  }
  // An aggregate capture has no events: its GC count is unknown, not 0.
  if (meta.aggregated) cap.push("aggregated capture: no timeline, GC or RSS recorded");
  else {
    cap.push(gc.length + " garbage collection" + (gc.length === 1 ? "" : "s"));
    if (!t.length && !rss.length) cap.push("no timeline recorded");
  }
  byId("chart-caption").textContent = cap.join("; ") + ".";
  if (rangeInfo) showRange(rangeInfo.t0, rangeInfo.t1);
  return rangeRect;
}
