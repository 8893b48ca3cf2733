/* memlyze flame graph page, 3 of 8: zoom and the breadcrumb of the zoom
 * path (click a frame, Escape to reset, Backspace for the caller). */

var zoomNode = 0;

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

canvas.addEventListener("keydown", function (ev) {
  if (ev.key === "Escape") zoom(0);
  else if (ev.key === "Backspace" && zoomNode > 0) zoom(parent[zoomNode]);
});
byId("reset-zoom").addEventListener("click", function () { zoom(0); });
