// The bins map: SVG drawn from latitude/longitude (equirectangular, scaled to the points), bins as
// dots coloured by fill, the route as a line. No tiles and no network: it works offline.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  function fillClass(pct) {
    if (pct === null || pct === undefined) return "fill-none";
    return pct >= 80 ? "fill-high" : pct >= 50 ? "fill-mid" : "fill-low";
  }
  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  // points: [{lat, lon, pct, label, id}], route: [[lat, lon], ...] (may be empty), depot: [lat, lon] or null
  function draw(svg, points, route, depot) {
    svg.replaceChildren();
    const all = points.filter((p) => p.lat !== null && p.lat !== undefined).map((p) => [p.lat, p.lon]);
    if (depot) all.push(depot);
    route.forEach((r) => all.push(r));
    if (!all.length) return;
    let [la0, lo0, la1, lo1] = [90, 180, -90, -180];
    all.forEach(([la, lo]) => { la0 = Math.min(la0, la); la1 = Math.max(la1, la); lo0 = Math.min(lo0, lo); lo1 = Math.max(lo1, lo); });
    const k = Math.cos(((la0 + la1) / 2) * Math.PI / 180);
    const w = Math.max((lo1 - lo0) * k, 1e-4), h = Math.max(la1 - la0, 1e-4);
    const s = Math.min(920 / w, 620 / h);
    const xy = (la, lo) => [40 + (lo - lo0) * k * s, 660 - (la - la0) * s];
    if (route.length > 1) {
      svg.append(el("polyline", { class: "route", points: route.map(([la, lo]) => xy(la, lo).join(",")).join(" ") }));
    }
    if (depot) { const [x, y] = xy(depot[0], depot[1]); svg.append(el("rect", { class: "depot", x: x - 9, y: y - 9, width: 18, height: 18 })); }
    points.forEach((p) => {
      if (p.lat === null || p.lat === undefined) return;
      const [x, y] = xy(p.lat, p.lon);
      const c = el("circle", { cx: x, cy: y, r: 11, class: fillClass(p.pct), "data-bin": p.id });
      const t = el("title", {}); t.textContent = p.title || p.id; c.append(t);
      svg.append(c);
      if (p.label) { const tx = el("text", { x: x + 13, y: y - 8 }); tx.textContent = p.label; svg.append(tx); }
    });
  }
  window.binMap = { draw, fillClass };
})();
