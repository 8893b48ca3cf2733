/* memlyze flame graph page. Self-contained: reads its data from the
 * JSON element with id "flame-data" and draws on a
 * canvas (flame graph) and an SVG (memory over time). Names from the capture
 * are untrusted: they reach the page only through textContent, SVG text
 * nodes and canvas fillText, never as markup. */
(function () {
  "use strict";

  var ROW = 18;            // px per stack level
  var MIN_PX = 1;          // rects narrower than this are merged
  var LIST_LIMIT = 300;    // entries in the accessible frame list
  var SVGNS = "http://www.w3.org/2000/svg";

  // ---------------------------------------------------------------- data
  var data = JSON.parse(document.getElementById("flame-data").textContent);
  var meta = data.meta || {};
  var S = data.strings || [""];
  var NODES = data.nodes || {};
  var P = NODES.parent || [];
  var n = P.length;
  var FN = NODES.function || [];
  var FILE = NODES.file || [];
  var LINE = NODES.line || [];
  var inverted = !!meta.inverted;
  var timeline = data.timeline || {};
  var temporal = data.temporal || null;

  var parent = new Int32Array(n);
  var depth = new Int32Array(n);
  var baseVal = new Float64Array(n);
  var baseCnt = new Float64Array(n);
  var maxDepthAll = 0;
  for (var i = 0; i < n; i++) {
    var p = i === 0 ? -1 : (P[i] | 0);
    if (i > 0 && (p < 0 || p >= i)) p = 0;  // malformed: hang it under the root
    parent[i] = p;
    depth[i] = p < 0 ? 0 : depth[p] + 1;
    if (depth[i] > maxDepthAll) maxDepthAll = depth[i];
    baseVal[i] = +(NODES.bytes && NODES.bytes[i]) || 0;
    baseCnt[i] = +(NODES.count && NODES.count[i]) || 0;
  }
  // children as CSR arrays
  var childStart = new Int32Array(n + 1);
  for (i = 1; i < n; i++) childStart[parent[i] + 1]++;
  for (i = 0; i < n; i++) childStart[i + 1] += childStart[i];
  var childList = new Int32Array(Math.max(n - 1, 0));
  var fill = childStart.slice(0, n);
  for (i = 1; i < n; i++) childList[fill[parent[i]]++] = i;

  var val = baseVal, cnt = baseCnt;
  var x0 = new Float64Array(n);
  var selfVal = new Float64Array(n);
  var maxDepthShown = 0;

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

  function layout() {
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

  // ---------------------------------------------------------------- header
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
    if (meta.capture_truncated)
      notes.push("The capture is truncated" + (meta.truncation_note ? " (" + meta.truncation_note + ")" :
        ": the recording process did not finish writing it") + ".");
    if (meta.truncated)
      notes.push(meta.other_threshold_bytes ?
        "Frames smaller than " + human(meta.other_threshold_bytes) +
          " are merged into \u201cother\u201d frames to keep this page small." :
        "Small frames are merged into \u201cother\u201d frames to keep this page small.");
    if (notes.length) {
      var t = byId("truncation-note");
      t.textContent = notes.join(" ");
      t.hidden = false;
    }
    byId("flame-heading").textContent = inverted ?
      "Icicle graph (inverted: allocating functions on top, their callers below)" : "Flame graph";
  }

  // ---------------------------------------------------------------- flame
  var canvas = byId("flame");
  var ctx = canvas.getContext("2d");
  var wrap = byId("flame-wrap");
  var tooltip = byId("tooltip");
  var zoomNode = 0;
  var width = 0, height = 0;
  var charWidth = 7;
  var matchStr = null;      // Uint8Array over strings, or null: no search
  var matchedBytes = 0, matchedFrames = 0;
  var searchText = "";
  var rangeInfo = null;

  function isMatched(i) {
    return matchStr !== null && (matchStr[FN[i]] === 1 || matchStr[FILE[i]] === 1);
  }

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

  // The deepest level with a frame at least MIN_PX wide in the current view.
  function drawnDepth() {
    if (!n || !(val[zoomNode] > 0)) return 0;
    var scale = width / val[zoomNode], deepest = depth[zoomNode];
    var stack = [zoomNode];
    while (stack.length) {
      var i = stack.pop();
      if (depth[i] > deepest) deepest = depth[i];
      var tiny = 0;
      for (var c = childStart[i]; c < childStart[i + 1]; c++) {
        var ch = childList[c];
        if (val[ch] * scale >= MIN_PX) stack.push(ch);
        else tiny += val[ch] * scale;
      }
      if (tiny >= MIN_PX && depth[i] + 1 > deepest) deepest = depth[i] + 1;
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

  function drawBox(x, w, d, fillStyle, label, textColor) {
    var y = rowY(d);
    ctx.fillStyle = fillStyle;
    ctx.fillRect(x, y, Math.max(w - 0.5, 0.5), ROW - 1);
    if (label && w > 3 * charWidth) {
      var t = fitText(label, w);
      if (t) {
        ctx.fillStyle = textColor;
        ctx.fillText(t, x + 3, y + ROW / 2);
      }
    }
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
    drawBox(x, w, depth[i], fillStyle, fname(i), textColor);
  }

  function draw() {
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

  function renderBreadcrumb() {
    var nav = byId("breadcrumb");
    nav.textContent = "";
    var chain = ancestors(zoomNode);
    chain.forEach(function (a, k) {
      if (k) nav.appendChild(el("span", "\u203a", "sep"));
      var b = el("button", fname(a));
      b.type = "button";
      b.title = where(a);
      if (a === zoomNode) b.setAttribute("aria-current", "true");
      else b.addEventListener("click", function () { zoom(a); });
      nav.appendChild(b);
    });
  }

  function zoom(i) {
    i = i | 0;
    if (i < 0 || i >= n || !(val[i] > 0)) i = 0;
    zoomNode = i;
    renderBreadcrumb();
    draw();
    byId("live").textContent = "Zoomed to " + fname(i) + ", " + human(val[i]) + " (" + pct(val[i], val[0]) + ")";
    return zoomNode;
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
  canvas.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") zoom(0);
    else if (ev.key === "Backspace" && zoomNode > 0) zoom(parent[zoomNode]);
  });
  byId("reset-zoom").addEventListener("click", function () { zoom(0); });
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

  // ---------------------------------------------------------------- chart
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
    cap.push(gc.length + " garbage collection" + (gc.length === 1 ? "" : "s"));
    if (!t.length && !rss.length) cap.push("no timeline recorded");
    byId("chart-caption").textContent = cap.join("; ") + ".";
    if (rangeInfo) showRange(rangeInfo.t0, rangeInfo.t1);
    return rangeRect;
  }

  function showRange(t0, t1) {
    var r = byId("range-rect");
    if (!r || !chartGeom) return;
    if (t0 === null) { r.setAttribute("visibility", "hidden"); return; }
    var a = chartGeom.tx(t0), b = chartGeom.tx(t1);
    r.setAttribute("x", Math.min(a, b));
    r.setAttribute("width", Math.max(Math.abs(b - a), 1));
    r.setAttribute("visibility", "visible");
  }

  // ---------------------------------------------------------------- temporal
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
      var i = node[k] | 0;
      if (i < 0 || i >= n) continue;
      v[i] += +by[k] || 0;
      c[i] += +ct[k] || 0;
    }
    for (i = n - 1; i > 0; i--) { v[parent[i]] += v[i]; c[parent[i]] += c[i]; }
    val = v; cnt = c;
    rangeInfo = { t0: +edges[b0], t1: +edges[b1 + 1], b0: b0, b1: b1 };
    layout();
    byId("selection-label").textContent = "allocated between " + duration(rangeInfo.t0) + " and " +
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
    byId("selection-label").textContent = meta.selection_label || "";
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

  // ---------------------------------------------------------------- start
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
    selectRange: selectRange,
    clearRange: clearRange
  };

  renderHeader();
  byId("selection-label").textContent = meta.selection_label || "";
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
})();
