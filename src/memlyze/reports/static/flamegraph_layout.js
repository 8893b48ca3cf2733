/* memlyze flame graph page, 2 of 8: the flame graph's layout and canvas
 * drawing: x positions and self sizes (layout), colours, which levels are
 * drawn, hit testing, the on-screen rectangle of a frame, and the accessible
 * list of the largest frames in view. */

var ROW = 18;            // px per stack level
var MIN_PX = 1;          // rects narrower than this are merged
var LIST_LIMIT = 300;    // entries in the accessible frame list

var x0 = new Float64Array(n);
var selfVal = new Float64Array(n);
var maxDepthShown = 0;

function layout() {
  if (x0.length !== n) { x0 = new Float64Array(n); selfVal = new Float64Array(n); }
  var order = function (a, b) { return (val[b] - val[a]) || (a - b); };
  maxDepthShown = 0;
  if (n) x0[0] = 0;
  for (var p = 0; p < n; p++) {
    var a = childStart[p], b = childStart[p + 1];
    var x = x0[p], sum = 0;
    if (b - a > 1) childList.subarray(a, b).sort(order);
    for (var k = a; k < b; k++) {
      var c = childList[k];
      x0[c] = x;
      x += val[c];
      sum += val[c];
    }
    selfVal[p] = Math.max(val[p] - sum, 0);
    if (val[p] > 0 && depth[p] > maxDepthShown) maxDepthShown = depth[p];
  }
}

var canvas = byId("flame");
var ctx = canvas.getContext("2d");
var wrap = byId("flame-wrap");
var width = 0, height = 0;
var charWidth = 7;

function hashString(s) {
  var h = 2166136261;
  for (var k = 0; k < s.length; k++) { h ^= s.charCodeAt(k); h = Math.imul(h, 16777619); }
  return h >>> 0;
}
var colorCache = new Map();
function colorFor(i) {
  var key = FN[i] * 7919 + (FILE[i] | 0);
  var c = colorCache.get(key);
  if (c) return c;
  var h = hashString(fname(i) + "\u0000" + str(FILE[i]));
  if (!str(FILE[i])) {
    // no file: a thread, "other" (merged small frames) or "<no Python frame>"
    c = ["hsl(210,16%," + (74 + (h % 8)) + "%)", "hsl(210,8%,90%)"];
    colorCache.set(key, c);
    return c;
  }
  var hue = 8 + (h % 44);              // red .. orange .. yellow
  var sat = 70 + ((h >>> 8) % 20);
  var light = 52 + ((h >>> 16) % 14);
  c = ["hsl(" + hue + "," + sat + "%," + light + "%)",
       "hsl(" + hue + ",12%," + (light + 22) + "%)"];
  colorCache.set(key, c);
  return c;
}

function rowY(d) {
  return inverted ? d * ROW : height - (d + 1) * ROW;
}

function fitText(text, w) {
  var avail = w - 6;
  var room = Math.floor(avail / charWidth);
  if (room < 2) return "";
  if (text.length <= room * 0.8 && text.length < 40) return text;
  if (ctx.measureText(text).width <= avail) return text;
  var cut = Math.min(text.length, room);
  while (cut > 1 && ctx.measureText(text.slice(0, cut) + "\u2026").width > avail) cut--;
  return cut > 1 ? text.slice(0, cut) + "\u2026" : "";
}

function ancestors(i) {
  var chain = [];
  for (var a = i; a >= 0; a = parent[a]) chain.push(a);
  return chain.reverse();
}

// The deepest level with a frame wide enough for a label in the current
// view: a column of slivers (deep stacks holding a sliver of the selection)
// does not make the canvas tall and empty above the frames that matter;
// zooming into it shows its depth.
function drawnDepth() {
  if (!n || !(val[zoomNode] > 0)) return 0;
  var scale = width / val[zoomNode], deepest = depth[zoomNode];
  var tall = 3 * charWidth;
  var stack = [zoomNode];
  while (stack.length) {
    var i = stack.pop();
    if (depth[i] > deepest) deepest = depth[i];
    for (var c = childStart[i]; c < childStart[i + 1]; c++) {
      var ch = childList[c];
      if (val[ch] * scale >= tall) stack.push(ch);
    }
  }
  return deepest;
}

function resizeCanvas() {
  var dpr = window.devicePixelRatio || 1;
  width = Math.max(wrap.clientWidth, 100);
  maxDepthShown = drawnDepth();
  height = (maxDepthShown + 1) * ROW + 1;
  canvas.style.height = height + "px";
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.font = "12px system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";
  ctx.textBaseline = "middle";
  charWidth = ctx.measureText("abcdefghijklmnopqrstuvwxyz_<>.").width / 30 || 7;
}

// The file shown in a box: its last two path components (the tooltip has
// the whole path), with the line.
function shortWhere(i) {
  var f = str(FILE[i]);
  if (!f) return "";
  var parts = f.split(/[\\/]/).filter(function (part) { return part !== ""; });
  var shown = parts.slice(-2).join("/") || f;
  var l = LINE[i] | 0;
  return l > 0 ? shown + ":" + l : shown;
}

// "function file:line" when the box has room for it, else the function
// name alone (cut to fit): two frames of one function at different lines
// must look different.
function boxLabel(i, w) {
  var name = fname(i), at = shortWhere(i);
  if (at) {
    var full = name + " " + at;
    if (full.length * charWidth <= w - 6 && ctx.measureText(full).width <= w - 6) return full;
  }
  return fitText(name, w);
}

var drawnBoxes = [];  // {node, label, x, w, depth} of the last draw, for memlyzeFlame.drawn()

function drawBox(x, w, d, fillStyle, label, textColor, node) {
  var y = rowY(d);
  ctx.fillStyle = fillStyle;
  ctx.fillRect(x, y, Math.max(w - 0.5, 0.5), ROW - 1);
  var t = "";
  if (w > 3 * charWidth) {
    t = node !== undefined ? boxLabel(node, w) : (label ? fitText(label, w) : "");
    if (t) {
      ctx.fillStyle = textColor;
      ctx.fillText(t, x + 3, y + ROW / 2);
    }
  }
  if (node !== undefined) drawnBoxes.push({ node: node, label: t, x: x, w: w, depth: d });
}

function drawNode(i, x, w, dim) {
  var colors = colorFor(i);
  var fillStyle, textColor = "#1d1f21";
  if (matchStr !== null) {
    if (isMatched(i)) { fillStyle = "#ae3ec9"; textColor = "#ffffff"; }
    else fillStyle = colors[1];
  } else {
    fillStyle = dim ? colors[1] : colors[0];
  }
  if (i === 0) fillStyle = matchStr !== null ? "#dee2e6" : "#ced4da";
  drawBox(x, w, depth[i], fillStyle, fname(i), textColor, i);
}

function draw() {
  drawnBoxes = [];
  resizeCanvas();
  ctx.clearRect(0, 0, width, height);
  if (!n || !(val[0] > 0)) { updateFrameList(); return; }
  var chain = ancestors(zoomNode);
  for (var k = 0; k < chain.length - 1; k++) drawNode(chain[k], 0, width, true);
  var z = zoomNode;
  var scale = width / val[z], origin = x0[z];
  var stack = [z];
  while (stack.length) {
    var i = stack.pop();
    var x = (x0[i] - origin) * scale, w = val[i] * scale;
    drawNode(i, x, w, false);
    var a = childStart[i], b = childStart[i + 1], tiny = 0, tinyX = -1;
    for (var c = a; c < b; c++) {
      var ch = childList[c];
      var cw = val[ch] * scale;
      if (cw >= MIN_PX) stack.push(ch);
      else if (val[ch] > 0) {
        if (tinyX < 0) tinyX = (x0[ch] - origin) * scale;
        tiny += cw;
      }
    }
    if (tiny >= MIN_PX) drawBox(tinyX, tiny, depth[i] + 1, "#adb5bd", "", "");
  }
  updateFrameList();
}

// Which node is under (x, y) in canvas CSS pixels: {node} or {merged: parent} or null.
function hit(x, y) {
  if (!n || !(val[0] > 0)) return null;
  var d = inverted ? Math.floor(y / ROW) : Math.floor((height - y) / ROW);
  if (d < 0 || d > maxDepthShown) return null;
  var chain = ancestors(zoomNode);
  if (d < chain.length - 1) return { node: chain[d] };
  var z = zoomNode, scale = width / val[z], origin = x0[z];
  var i = z;
  while (depth[i] < d) {
    var a = childStart[i], b = childStart[i + 1], next = -1, tinyStart = -1, tinyEnd = -1;
    for (var c = a; c < b; c++) {
      var ch = childList[c];
      var cx = (x0[ch] - origin) * scale, cw = val[ch] * scale;
      if (!(val[ch] > 0)) continue;
      if (cw >= MIN_PX) {
        if (x >= cx && x < cx + cw) { next = ch; break; }
      } else {
        if (tinyStart < 0) tinyStart = cx;
        tinyEnd = cx + cw;
      }
    }
    if (next < 0) {
      if (tinyStart >= 0 && tinyEnd - tinyStart >= MIN_PX && x >= tinyStart && x < tinyEnd && depth[i] + 1 === d)
        return { merged: i };
      return null;
    }
    i = next;
  }
  return { node: i };
}

function nodeRect(i) {
  if (i < 0 || i >= n || !(val[i] > 0)) return null;
  var box = canvas.getBoundingClientRect();
  var chain = ancestors(zoomNode);
  var x, w;
  if (chain.indexOf(i) >= 0 && i !== zoomNode) { x = 0; w = width; }
  else {
    var a = i;
    while (a >= 0 && a !== zoomNode) a = parent[a];
    if (a !== zoomNode) return null;
    var scale = width / val[zoomNode];
    x = (x0[i] - x0[zoomNode]) * scale;
    w = val[i] * scale;
    if (w < MIN_PX) return null;
  }
  return { x: box.left + x, y: box.top + rowY(depth[i]), width: w, height: ROW - 1 };
}

function updateFrameList() {
  var list = byId("frame-list");
  list.textContent = "";
  if (!n || !(val[zoomNode] > 0)) return;
  var total = val[0], view = val[zoomNode], min = view * 0.005;
  var stack = [zoomNode], shown = 0;
  var frag = document.createDocumentFragment();
  while (stack.length && shown < LIST_LIMIT) {
    var i = stack.pop();
    var text = fname(i);
    var w = where(i);
    if (w) text += " \u2014 " + w;
    text += " \u2014 " + human(val[i]) + " (" + pct(val[i], total) + ")";
    var li = el("li", text);
    li.setAttribute("data-node", String(i));
    li.setAttribute("data-depth", String(depth[i] - depth[zoomNode]));
    frag.appendChild(li);
    shown++;
    for (var c = childStart[i + 1] - 1; c >= childStart[i]; c--) {
      var ch = childList[c];
      if (val[ch] >= min && val[ch] > 0) stack.push(ch);
    }
  }
  list.appendChild(frag);
}
