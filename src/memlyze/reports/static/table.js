/* memlyze table page: allocations by location, searchable, filterable and
 * sortable, for hundreds of thousands of rows.
 *
 * The rows arrive as columns in the JSON element "table-data" (strings as
 * indices into one string table) and are decoded once into typed arrays.
 * Searching, filtering and sorting make an array of row indices (order);
 * only the rows in view are in the document (virtual scrolling: a spacer as
 * tall as every row, and a pool of row elements moved and refilled on
 * scroll), so neither the row count nor a sort touches thousands of
 * elements. Names from the capture are untrusted: they reach the page only
 * through textContent. */

var data = JSON.parse(document.getElementById("table-data").textContent);
var S = data.strings || [""];
var ROW_HEIGHT = 25;   // px; .row in table.css
var OVERSCAN = 8;      // rows drawn above and below the visible ones
var SELECTION_BYTES = +data.selection_bytes || 0;

var COLUMNS = [
  { key: "bytes", title: "bytes", kind: "bytes" },
  { key: "share", title: "%", kind: "share" },
  { key: "count", title: "count", kind: "count" },
  { key: "leaked_bytes", title: "leaked", kind: "bytes" },
  { key: "total_bytes", title: "allocated", kind: "bytes" },
  { key: "total_count", title: "allocations", kind: "count" },
  { key: "function", title: "function", kind: "function" },
  { key: "location", title: "location", kind: "location" }
];
var NUMBERS = ["bytes", "count", "leaked_bytes", "total_bytes", "total_count"];

function byId(id) { return document.getElementById(id); }

// ---------------------------------------------------------------- decoding
function decode(columns) {
  columns = columns || {};
  var fn = columns["function"] || [], size = fn.length;
  var rows = { size: size, number: {} };
  // Typed arrays made from the JSON arrays natively (a loop in script is
  // several times slower on a page's first run); a missing or short column
  // reads as zeros.
  function typed(Type, name) {
    var source = columns[name];
    if (!Array.isArray(source) || source.length !== size) return new Type(size);
    return new Type(source);
  }
  rows.fn = typed(Int32Array, "function");
  rows.file = typed(Int32Array, "file");
  rows.line = typed(Int32Array, "line");
  rows.thread = columns.thread ? typed(Int32Array, "thread") : null;
  NUMBERS.forEach(function (name) { rows.number[name] = typed(Float64Array, name); });
  return rows;
}

var allRows = decode(data.rows);
var threadRows = null;  // decoded on first use: rows per (location, thread)
var THREADS = data.threads || [];

function str(k) { var s = S[k]; return typeof s === "string" ? s : ""; }

// ---------------------------------------------------------------- formatting
var UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
function human(v) {
  var sign = v < 0 ? "-" : "";
  v = Math.abs(v);
  if (v < 1024) return sign + Math.round(v) + " B";
  var e = Math.min(Math.floor(Math.log(v) / Math.log(1024)), UNITS.length - 1);
  var s = v / Math.pow(1024, e);
  if (s >= 1023.95 && e < UNITS.length - 1) { e++; s = v / Math.pow(1024, e); }
  return sign + s.toFixed(1) + " " + UNITS[e];
}
function count(v) { return Math.round(v).toLocaleString("en-US"); }
function share(part) {
  return SELECTION_BYTES ? (100 * part / SELECTION_BYTES).toFixed(1) + "%" : "-";
}
function location(rows, i) {
  var f = str(rows.file[i]);
  return f ? f + ":" + rows.line[i] : "";
}
function cellText(rows, i, column) {
  switch (column.kind) {
    case "bytes": return human(rows.number[column.key][i]);
    case "count": return count(rows.number[column.key][i]);
    case "share": return share(rows.number.bytes[i]);
    case "function": return str(rows.fn[i]);
    default: return location(rows, i);
  }
}

// ---------------------------------------------------------------- the view
var view = {
  rows: allRows, order: new Uint32Array(0), total: 0, bytes: 0,
  search: "", thread: -1, minBytes: 0, sortKey: data.sorted_by || "bytes", descending: true
};

function stringMatches(text) {
  if (!text) return null;
  var needle = text.toLowerCase(), match = new Uint8Array(S.length);
  for (var k = 1; k < S.length; k++) {
    if (typeof S[k] === "string" && S[k].toLowerCase().indexOf(needle) >= 0) match[k] = 1;
  }
  return match;
}

// Every row of the view's rows passing the thread, size and search filters,
// in index order.
function filtered(rows) {
  var match = stringMatches(view.search);
  var keep = new Uint32Array(rows.size), kept = 0, total = 0;
  var bytes = rows.number.bytes, thread = view.thread, minBytes = view.minBytes, sum = 0;
  for (var i = 0; i < rows.size; i++) {
    if (thread >= 0 && rows.thread[i] !== thread) continue;
    total++;
    if (bytes[i] < minBytes) continue;
    if (match !== null && match[rows.fn[i]] !== 1 && match[rows.file[i]] !== 1) continue;
    keep[kept++] = i;
    sum += bytes[i];
  }
  view.total = total;
  view.bytes = sum;
  return keep.subarray(0, kept);
}

var stringRank = null;  // Int32Array over strings: their sorted position
function rankStrings() {
  if (stringRank) return stringRank;
  var ids = new Uint32Array(S.length);
  for (var k = 0; k < S.length; k++) ids[k] = k;
  var lower = S.map(function (s) { return typeof s === "string" ? s.toLowerCase() : ""; });
  ids.sort(function (a, b) { return lower[a] < lower[b] ? -1 : lower[a] > lower[b] ? 1 : a - b; });
  stringRank = new Int32Array(S.length);
  for (k = 0; k < ids.length; k++) stringRank[ids[k]] = k;
  return stringRank;
}

function comparator(rows, key, descending) {
  var sign = descending ? -1 : 1, values;
  if (key === "function" || key === "location") {
    var rank = rankStrings(), names = key === "function" ? rows.fn : rows.file, line = rows.line;
    return function (a, b) {
      var d = rank[names[a]] - rank[names[b]];
      if (d === 0 && key === "location") d = line[a] - line[b];
      return sign * d || a - b;
    };
  }
  values = rows.number[key === "share" ? "bytes" : key];
  return function (a, b) { return sign * (values[a] - values[b]) || a - b; };
}

// The rows arrive sorted by data.sorted_by, largest first: a filtered subset
// of them in index order needs no sort.
function presorted() {
  return view.rows === allRows && view.descending &&
    (view.sortKey === data.sorted_by || (view.sortKey === "share" && data.sorted_by === "bytes"));
}

function apply() {
  view.rows = view.thread >= 0 ? threadsDecoded() : allRows;
  var order = filtered(view.rows);
  if (!presorted()) order.sort(comparator(view.rows, view.sortKey, view.descending));
  view.order = order;
  byId("spacer").style.height = order.length * ROW_HEIGHT + "px";
  byId("table").setAttribute("aria-rowcount", String(order.length + 1));
  showCount();
  renderHead();
  render();
}

function threadsDecoded() {
  if (!threadRows) threadRows = decode(data.thread_rows);
  return threadRows;
}

function showCount() {
  var shown = view.order.length, noun = view.total === 1 ? " location" : " locations";
  var text = shown === view.total ? count(shown) + noun :
    count(shown) + " of " + count(view.total) + noun;
  byId("row-count").textContent = text + " (" + human(view.bytes) + ")";
  byId("empty-note").hidden = shown > 0;
}

// ---------------------------------------------------------------- drawing
var viewport = byId("viewport"), rowsBox = byId("rows"), pool = [];

function makeRow() {
  var row = document.createElement("div");
  row.className = "row";
  row.setAttribute("role", "row");
  COLUMNS.forEach(function (column) {
    var cell = document.createElement("div");
    cell.setAttribute("role", "gridcell");
    cell.className = column.kind === "function" ? "" : column.kind === "location" ? "where" : "number";
    row.appendChild(cell);
  });
  rowsBox.appendChild(row);
  return row;
}

function render() {
  var order = view.order, rows = view.rows;
  var top = viewport.scrollTop, height = viewport.clientHeight;
  var first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  var last = Math.min(order.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
  rowsBox.style.transform = "translateY(" + first * ROW_HEIGHT + "px)";
  while (pool.length < last - first) pool.push(makeRow());
  for (var j = 0; j < pool.length; j++) {
    var row = pool[j], position = first + j;
    if (position >= last) { row.hidden = true; continue; }
    row.hidden = false;
    row.setAttribute("aria-rowindex", String(position + 2));
    var i = order[position], cells = row.children;
    for (var c = 0; c < COLUMNS.length; c++) {
      var text = cellText(rows, i, COLUMNS[c]);
      if (cells[c].textContent !== text) cells[c].textContent = text;
    }
    cells[7].title = cells[7].textContent;
    cells[6].title = cells[6].textContent;
  }
}

function renderHead() {
  var head = byId("head");
  if (!head.children.length) {
    COLUMNS.forEach(function (column) {
      var cell = document.createElement("div");
      cell.setAttribute("role", "columnheader");
      cell.setAttribute("data-column", column.key);
      if (column.kind !== "function" && column.kind !== "location") cell.className = "number";
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = column.title;
      button.addEventListener("click", function () {
        var again = view.sortKey === column.key;
        var text = column.kind === "function" || column.kind === "location";
        sortBy(column.key, again ? !view.descending : !text);
      });
      cell.appendChild(button);
      head.appendChild(cell);
    });
  }
  for (var c = 0; c < head.children.length; c++) {
    var cell = head.children[c], key = cell.getAttribute("data-column");
    if (key === view.sortKey) cell.setAttribute("aria-sort", view.descending ? "descending" : "ascending");
    else cell.removeAttribute("aria-sort");
  }
}

// ---------------------------------------------------------------- controls
function sortBy(key, descending) {
  var known = COLUMNS.some(function (column) { return column.key === key; });
  if (!known) throw new Error("no column " + key);
  view.sortKey = key;
  view.descending = descending === undefined ? true : !!descending;
  apply();
  return state();
}

function search(text) {
  view.search = text === undefined || text === null ? "" : String(text);
  if (searchBox.value !== view.search) searchBox.value = view.search;
  viewport.scrollTop = 0;
  apply();
  return state();
}

// value: "all", a thread's index, or its label as shown in the selector.
function chooseThread(value) {
  var index = -1;
  if (value !== "all" && value !== -1 && value !== null && value !== undefined) {
    index = typeof value === "number" ? value : THREADS.indexOf(String(value));
    if (!(index >= 0 && index < THREADS.length)) throw new Error("no thread " + value);
  }
  view.thread = index;
  threadBox.value = String(index);
  viewport.scrollTop = 0;
  apply();
  return state();
}

var SIZE_UNITS = { "": 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1048576, mb: 1e6, mib: 1048576,
                   g: 1073741824, gb: 1e9, gib: 1073741824 };
// "10 KiB" -> 10240; null when the text is no size.
function parseSize(text) {
  var m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return null;
  var unit = SIZE_UNITS[m[2].toLowerCase()];
  return unit === undefined ? null : Math.round(parseFloat(m[1]) * unit);
}

function minimumBytes(value) {
  view.minBytes = Math.max(+value || 0, 0);
  viewport.scrollTop = 0;
  apply();
  return state();
}

function rowAt(rows, i) {
  var out = { "function": str(rows.fn[i]), file: str(rows.file[i]), line: rows.line[i],
              thread: rows.thread ? THREADS[rows.thread[i]] : null };
  NUMBERS.forEach(function (name) { out[name] = rows.number[name][i]; });
  return out;
}

function shownRows(start, size) {
  var out = [];
  for (var k = start; k < Math.min(start + size, view.order.length); k++)
    out.push(rowAt(view.rows, view.order[k]));
  return out;
}

function state() {
  return {
    rows: view.total, shown: view.order.length, shownBytes: view.bytes,
    sort: { column: view.sortKey, descending: view.descending },
    search: view.search, thread: view.thread >= 0 ? THREADS[view.thread] : "all",
    minBytes: view.minBytes, first: shownRows(0, 10)
  };
}

// The rows in the document, as their cells' texts (what is drawn).
function drawnRows() {
  return pool.filter(function (row) { return !row.hidden; }).map(function (row) {
    return Array.prototype.map.call(row.children, function (cell) { return cell.textContent; });
  });
}

var searchBox = byId("search"), threadBox = byId("thread"), sizeBox = byId("min-size");
var searchTimer = 0;
searchBox.addEventListener("input", function () {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(function () { search(searchBox.value); }, 120);
});
searchBox.addEventListener("keydown", function (ev) {
  if (ev.key === "Enter") { clearTimeout(searchTimer); search(searchBox.value); }
});
sizeBox.addEventListener("change", function () {
  var bytes = sizeBox.value.trim() === "" ? 0 : parseSize(sizeBox.value);
  sizeBox.setAttribute("aria-invalid", bytes === null ? "true" : "false");
  if (bytes !== null) minimumBytes(bytes);
});
threadBox.addEventListener("change", function () {
  var index = +threadBox.value;
  chooseThread(index >= 0 ? index : "all");
});
var scrollQueued = false;
viewport.addEventListener("scroll", function () {
  if (scrollQueued) return;
  scrollQueued = true;
  requestAnimationFrame(function () { scrollQueued = false; render(); });
});
window.addEventListener("resize", render);

function setUpThreads() {
  if (!THREADS.length || !data.thread_rows) return;
  var all = document.createElement("option");
  all.value = "-1";
  all.textContent = "All threads";
  threadBox.appendChild(all);
  THREADS.forEach(function (label, index) {
    var option = document.createElement("option");
    option.value = String(index);
    option.textContent = label;
    threadBox.appendChild(option);
  });
  byId("thread-control").hidden = false;
}

window.memlyzeTable = {
  state: state,
  rows: shownRows,
  drawn: drawnRows,
  sort: sortBy,
  search: search,
  thread: chooseThread,
  minimumBytes: minimumBytes,
  parseSize: parseSize
};

setUpThreads();
apply();
document.documentElement.setAttribute("data-ready", "true");
