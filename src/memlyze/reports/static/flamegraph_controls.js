/* memlyze flame graph page, 7 of 8: the view controls: a thread selector
 * (every thread merged, one subtree per thread, or one thread) and the
 * "hide import frames" / "hide interpreter frames" toggles.
 *
 * The page folds the tree in view from the source tree: a hidden node's
 * children become children of its nearest shown ancestor and merge with
 * the children it has of the same name (function, file, line); a node's
 * bytes and counts are the sums of the source nodes merged into it (they
 * are disjoint subtrees, so inclusive figures add up). The source tree marks
 * what can be hidden (data.marks, flame_data.py): its thread nodes, and the
 * native frames trimmed paths leave out (the interpreter's own frames of a
 * --native capture). Import machinery frames are known by their files:
 * importlib's bootstrap modules and zipimport, frozen into the interpreter. */

var marks = data.marks || {};
function sourceNodes(list) {
  return (Array.isArray(list) ? list : []).map(function (k) { return k | 0; })
    .filter(function (k) { return k > 0 && k < source.n; });
}
var threadNodes = sourceNodes(marks.thread).filter(function (k) { return source.parent[k] === 0; });
var trimmedNodes = sourceNodes(marks.trimmed);
var IMPORT_FILE = /^<frozen (importlib\._bootstrap(_external)?|zipimport)>$/;
var importString = new Uint8Array(S.length);
var importNodeCount = 0;
for (var k = 1; k < S.length; k++) if (IMPORT_FILE.test(str(k))) importString[k] = 1;
for (k = 1; k < source.n; k++) if (importString[source.file[k]] === 1) importNodeCount++;

// thread: "all" (merged), "split" (one subtree each) or a thread node (source index)
var controls = {
  thread: threadNodes.length && !meta.split_threads ? "all" : "split",
  hideImport: false,
  hideInterpreter: trimmedNodes.length > 0 && meta.native_frames !== "all"
};

// The source nodes hidden (1) and left out with their subtrees (2).
function hiddenNodes() {
  var state = new Uint8Array(source.n), any = false;
  if (controls.hideInterpreter) trimmedNodes.forEach(function (k) { state[k] = 1; any = true; });
  if (controls.hideImport) {
    for (var k = 1; k < source.n; k++) if (importString[source.file[k]] === 1) { state[k] = 1; any = true; }
  }
  if (controls.thread !== "split") {
    threadNodes.forEach(function (k) {
      state[k] = controls.thread === "all" || controls.thread === k ? 1 : 2;
      any = true;
    });
  }
  return any ? state : null;
}

function foldedTree(state) {
  var size = 1, index = new Map();
  var tree = { parent: [-1], fn: [source.fn[0]], file: [source.file[0]], line: [source.line[0]],
               val: [source.val[0]], cnt: [source.cnt[0]] };
  viewOf = new Int32Array(source.n);
  for (var s = 1; s < source.n; s++) {
    var p = viewOf[source.parent[s]];
    if (p < 0 || state[s] === 2) { viewOf[s] = -1; continue; }
    if (state[s] === 1) { viewOf[s] = p; continue; }
    var key = p + "/" + source.fn[s] + "/" + source.file[s] + "/" + source.line[s];
    var v = index.get(key);
    if (v === undefined) {
      v = size++;
      index.set(key, v);
      tree.parent.push(p); tree.fn.push(source.fn[s]); tree.file.push(source.file[s]);
      tree.line.push(source.line[s]); tree.val.push(0); tree.cnt.push(0);
    }
    tree.val[v] += source.val[s];
    tree.cnt[v] += source.cnt[s];
    viewOf[s] = v;
  }
  if (typeof controls.thread === "number") {  // the root holds that thread's figures
    tree.val[0] = source.val[controls.thread];
    tree.cnt[0] = source.cnt[controls.thread];
  }
  return { n: size, parent: Int32Array.from(tree.parent), fn: tree.fn, file: tree.file,
           line: tree.line, val: Float64Array.from(tree.val), cnt: Float64Array.from(tree.cnt) };
}

function refold() {
  var state = hiddenNodes();
  if (state === null) {
    useTree(source);
    viewOf = new Int32Array(source.n);
    for (var s = 0; s < source.n; s++) viewOf[s] = s;
  } else {
    useTree(foldedTree(state));
  }
}

function threadLabel() {
  return typeof controls.thread === "number" ? str(source.fn[controls.thread]) : "";
}

function selectionText() {
  var label = meta.selection_label || "";
  var thread = threadLabel();
  return thread ? label + (label ? "; " : "") + thread : label;
}

// Re-folds and redraws with the controls as they are now.
function applyControls() {
  var range = rangeInfo;
  refold();
  layout();
  zoomNode = 0;
  if (range) { selectRange(range.t0, range.t1); return; }  // redraws
  byId("selection-label").textContent = selectionText();
  renderBreadcrumb();
  search(searchText);  // redraws
}

// value: "all", "split", a thread node (source index) or a thread's name as
// in the selector ("thread 1 (MainThread)").
function setThread(value) {
  var chosen = value;
  if (value !== "all" && value !== "split") {
    chosen = typeof value === "number" ? value : -1;
    if (typeof value !== "number") {
      threadNodes.forEach(function (k) { if (str(source.fn[k]) === String(value)) chosen = k; });
    }
    if (threadNodes.indexOf(chosen) < 0) throw new Error("no thread " + value);
  }
  controls.thread = chosen;
  byId("thread-select").value = String(chosen);
  applyControls();
  return controlState();
}
function setHideImport(on) {
  controls.hideImport = !!on;
  byId("hide-import").checked = controls.hideImport;
  applyControls();
  return controlState();
}
function setHideInterpreter(on) {
  controls.hideInterpreter = !!on && trimmedNodes.length > 0;
  byId("hide-interpreter").checked = controls.hideInterpreter;
  applyControls();
  return controlState();
}

function controlState() {
  return {
    thread: typeof controls.thread === "number" ? str(source.fn[controls.thread]) : controls.thread,
    threads: threadNodes.map(function (k) { return { name: str(source.fn[k]), bytes: source.val[k] }; }),
    hideImport: controls.hideImport, importFrames: importNodeCount,
    hideInterpreter: controls.hideInterpreter, interpreterFrames: trimmedNodes.length
  };
}

function setupControls() {
  var select = byId("thread-select");
  if (threadNodes.length) {
    var options = [["all", "All threads"], ["split", "All threads, one subtree each"]];
    threadNodes.forEach(function (k) {
      options.push([String(k), str(source.fn[k]) + " \u2014 " + human(source.val[k])]);
    });
    options.forEach(function (option) {
      var o = el("option", option[1]);
      o.value = option[0];
      select.appendChild(o);
    });
    select.value = String(controls.thread);
    select.addEventListener("change", function () {
      setThread(select.value === "all" || select.value === "split" ? select.value : +select.value);
    });
    byId("thread-control").hidden = false;
  }
  var hideImport = byId("hide-import");
  hideImport.checked = controls.hideImport;
  hideImport.addEventListener("change", function () { setHideImport(hideImport.checked); });
  byId("import-control").hidden = importNodeCount === 0;
  var hideInterpreter = byId("hide-interpreter");
  hideInterpreter.checked = controls.hideInterpreter;
  hideInterpreter.addEventListener("change", function () { setHideInterpreter(hideInterpreter.checked); });
  byId("interpreter-control").hidden = trimmedNodes.length === 0;
  refold();
}
