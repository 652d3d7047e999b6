// The bins map: SVG drawn from latitude/longitude, bins as dots coloured by fill, the route as a
// line. Without a tile server (the default) it is equirectangular, scaled to the points, and needs
// no network: it works offline. With one (FLEET_MAP_TILE_URL, the svg's data-tiles) it is Web
// Mercator at the zoom that fits the points, with the server's 256-px tiles drawn underneath.
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
  function plain(la0, lo0, la1, lo1) {
    const k = Math.cos(((la0 + la1) / 2) * Math.PI / 180);
    const w = Math.max((lo1 - lo0) * k, 1e-4), h = Math.max(la1 - la0, 1e-4);
    const s = Math.min(920 / w, 620 / h);
    return (la, lo) => [40 + (lo - lo0) * k * s, 660 - (la - la0) * s];
  }
  function mercator(la, lo, z) {        // pixels at zoom z (the tile scheme of OSM and most servers)
    const n = 256 * Math.pow(2, z), sin = Math.sin(la * Math.PI / 180);
    return [(lo + 180) / 360 * n, (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * n];
  }
  function tiled(svg, la0, lo0, la1, lo1) {
    let z = 18;
    for (; z > 0; z--) {
      const [x0, y1] = mercator(la0, lo0, z), [x1, y0] = mercator(la1, lo1, z);
      if (x1 - x0 <= 920 && y1 - y0 <= 620) break;
    }
    const [x0, y1] = mercator(la0, lo0, z), [x1, y0] = mercator(la1, lo1, z);
    const ox = 500 - (x0 + x1) / 2, oy = 350 - (y0 + y1) / 2, last = Math.pow(2, z) - 1;
    for (let ty = Math.max(0, Math.floor(-oy / 256)); ty <= Math.min(last, Math.floor((700 - oy) / 256)); ty++) {
      for (let tx = Math.max(0, Math.floor(-ox / 256)); tx <= Math.min(last, Math.floor((1000 - ox) / 256)); tx++) {
        const href = svg.dataset.tiles.replace("{z}", z).replace("{x}", tx).replace("{y}", ty);
        svg.append(el("image", { class: "tile", href, x: tx * 256 + ox, y: ty * 256 + oy, width: 256, height: 256 }));
      }
    }
    if (svg.dataset.credit) {
      const t = el("text", { class: "credit", x: 992, y: 692 });
      t.textContent = svg.dataset.credit;
      svg.append(t);
    }
    return (la, lo) => { const [x, y] = mercator(la, lo, z); return [x + ox, y + oy]; };
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
    const xy = svg.dataset.tiles ? tiled(svg, la0, lo0, la1, lo1) : plain(la0, lo0, la1, lo1);
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
