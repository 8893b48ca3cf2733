/* memlyze flame graph page, 1 of 8: the data and formatting helpers.
 *
 * The page's script is the files listed in SCRIPTS in flamegraph_html.py,
 * joined in that order inside one function (one closure, "use strict"): a
 * name declared at the top of any file is visible to all of them, and
 * nothing leaks into the page's globals but the memlyzeFlame object
 * (flamegraph_main.js). Every file but the last only declares things and
 * adds event listeners; flamegraph_main.js starts the page.
 *
 * The page is self-contained: it reads its data from the JSON element with
 * id "flame-data" and draws on a canvas (flame graph) and an SVG (memory over
 * time). Names from the capture are untrusted: they reach the page only
 * through textContent, SVG text nodes and canvas fillText, never as markup.
 *
 * This file: the decoded tree (the source tree, as embedded), the tree in
 * view (parent, depth, bytes and counts, children as CSR arrays: the source
 * tree itself, or the copy flamegraph_controls.js folds from it), the values
 * shown (val, cnt: the whole selection or a time range), frame names, and
 * number, size and time formatting. */

var data = JSON.parse(document.getElementById("flame-data").textContent);
var meta = data.meta || {};
var S = data.strings || [""];
var NODES = data.nodes || {};
var P = NODES.parent || [];
var inverted = !!meta.inverted;
var timeline = data.timeline || {};
var temporal = data.temporal || null;

// The source tree: parents precede their children.
var source = { n: P.length, parent: new Int32Array(P.length), val: new Float64Array(P.length),
               cnt: new Float64Array(P.length), fn: NODES.function || [], file: NODES.file || [],
               line: NODES.line || [] };
for (var i = 0; i < source.n; i++) {
  var p = i === 0 ? -1 : (P[i] | 0);
  if (i > 0 && (p < 0 || p >= i)) p = 0;  // malformed: hang it under the root
  source.parent[i] = p;
  source.val[i] = +(NODES.bytes && NODES.bytes[i]) || 0;
  source.cnt[i] = +(NODES.count && NODES.count[i]) || 0;
}

// The tree in view (every other file reads these).
var n, parent, depth, FN, FILE, LINE, baseVal, baseCnt, childStart, childList, val, cnt;

// Shows tree (source, or one shaped like it): depths and children as CSR arrays.
function useTree(tree) {
  n = tree.n; parent = tree.parent; FN = tree.fn; FILE = tree.file; LINE = tree.line;
  baseVal = tree.val; baseCnt = tree.cnt;
  depth = new Int32Array(n);
  for (var i = 1; i < n; i++) depth[i] = depth[parent[i]] + 1;
  childStart = new Int32Array(n + 1);
  for (i = 1; i < n; i++) childStart[parent[i] + 1]++;
  for (i = 0; i < n; i++) childStart[i + 1] += childStart[i];
  childList = new Int32Array(Math.max(n - 1, 0));
  var fill = childStart.slice(0, n);
  for (i = 1; i < n; i++) childList[fill[parent[i]]++] = i;
  val = baseVal; cnt = baseCnt;
}
useTree(source);
// Where each source node is in view (-1: not in view); identity at first.
var viewOf = new Int32Array(source.n);
for (i = 0; i < source.n; i++) viewOf[i] = i;

function str(k) { var s = S[k]; return typeof s === "string" ? s : ""; }
function fname(i) {
  var s = str(FN[i]);
  if (s) return s;
  return i === 0 ? "<all>" : "<unknown>";
}
function where(i) {
  var f = str(FILE[i]);
  if (!f) return "";
  var l = LINE[i] | 0;
  return l > 0 ? f + ":" + l : f;
}

// ---------------------------------------------------------------- units
var UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
function human(v) {
  if (v === null || v === undefined || isNaN(v)) return "-";
  var sign = v < 0 ? "-" : "";
  v = Math.abs(v);
  if (v < 1024) return sign + Math.round(v) + " B";
  var e = Math.min(Math.floor(Math.log(v) / Math.log(1024)), UNITS.length - 1);
  var s = v / Math.pow(1024, e);
  if (s >= 1023.95 && e < UNITS.length - 1) { e++; s = v / Math.pow(1024, e); }
  return sign + s.toFixed(1) + " " + UNITS[e];
}
function duration(sec) {
  if (sec === null || sec === undefined || isNaN(sec)) return "-";
  sec = +sec;
  if (sec === 0) return "0 s";
  if (sec < 0.001) return (sec * 1e6).toFixed(0) + " \u00b5s";
  if (sec < 1) return (sec * 1e3).toFixed(1) + " ms";
  if (sec < 120) return sec.toFixed(2) + " s";
  var m = Math.floor(sec / 60), r = sec - 60 * m;
  if (m < 120) return m + " min " + r.toFixed(0) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}
function count(v) {
  if (v === null || v === undefined || isNaN(v)) return "-";
  return Math.round(v).toLocaleString("en-US");
}
function pct(part, whole) {
  if (!whole) return "-";
  var v = 100 * part / whole;
  if (v > 0 && v < 0.05) return "<0.1%";
  return v.toFixed(1) + "%";
}

function el(tag, text, cls) {
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function byId(id) { return document.getElementById(id); }
