// Bins: the map coloured by fill with the latest plan's routes, the list with forecasts, maintenance,
// and "plan the next shift".
(function () {
  "use strict";
  const _ = i18n._;
  const toast = document.getElementById("toast");
  function say(text, bad) { toast.textContent = text; toast.hidden = false; toast.classList.toggle("bad", !!bad); }
  async function api(method, path, body) {
    const r = await fetch(path, { method, credentials: "same-origin", headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined });
    const data = r.status === 204 ? null : await r.json();
    if (!r.ok) throw new Error(i18n.apiError(r.status, data));
    return data;
  }
  function td(text) { const c = document.createElement("td"); c.textContent = text === null || text === undefined || text === "" ? "—" : text; return c; }
  const STATUS = { ok: _("ok"), lidOpen: _("lid open"), dropped: _("knocked over"), burning: _("fire") };
  const METHOD = { weekly: _("weekly profile"), recent: _("recent rate"), no: _("no data") };   // by the first word
  function when(t) { return t ? i18n.dateTime(new Date(t * 1000).toISOString()) : _("not within 4 weeks"); }
  async function load() {
    const list = await api("GET", "/api/v1/bins?forecast=true");
    let plan = null;
    try { plan = await api("GET", "/api/v1/waste/plans/latest"); } catch (e) { plan = null; }
    const rows = document.getElementById("rows");
    rows.replaceChildren(...list.map((b) => {
      const tr = document.createElement("tr");
      tr.id = "bin-" + b.id;
      const f = b.forecast;
      tr.append(td(b.name ? b.id + " " + b.name : b.id), td(b.area), td(b.waste_type), td(b.pct === null ? null : b.pct + " %"),
        td(STATUS[b.status] || b.status), td(f.pct === null ? null : when(f.threshold_at)), td(METHOD[f.method.split(" ")[0]] || f.method));
      return tr;
    }));
    if (!list.length) rows.replaceChildren(Object.assign(document.createElement("tr"), { className: "empty" }));
    const route = [];
    if (plan) {
      plan.stops.forEach((s) => route.push([s.lat, s.lon]));
      const left = plan.summary.left.length;
      document.getElementById("plan-summary").textContent = _("Latest plan: %(stops)s stops, %(km)s km, %(left)s left out.",
        { stops: plan.summary.stops, km: plan.summary.km.reduce((a, b) => a + b, 0).toFixed(1), left });
      document.getElementById("left-out").replaceChildren(...plan.summary.left.map((l) => {
        const li = document.createElement("li");
        li.textContent = l.id + ": " + wasteReasons.left(l);
        return li;
      }));
    }
    binMap.draw(document.getElementById("map"), list.map((b) => ({ id: b.id, lat: b.lat, lon: b.lon, pct: b.pct,
      title: b.id + (b.pct === null ? "" : " " + b.pct + " %") })), route, null);
    const m = await api("GET", "/api/v1/bins/maintenance");
    const KIND = { tilted: _("knocked over"), sensor_fault: _("sensor fault"), not_reporting: _("not reporting") };
    document.getElementById("maintenance").replaceChildren(...(m.length ? m : [null]).map((x) => {
      const li = document.createElement("li");
      li.textContent = x ? x.bin_id + ": " + (KIND[x.kind] || x.kind) + (x.detail ? " (" + x.detail + ")" : "") : _("Nothing to fix.");
      return li;
    }));
  }
  const plan = document.getElementById("plan");
  if (plan) plan.addEventListener("click", async () => {
    plan.disabled = true;
    try {
      const p = await api("POST", "/api/v1/waste/plans", {});
      say(p.status === "time_limit" ? _("Plan %(id)s made: the solver stopped at its time limit, this is the best plan found so far.", { id: p.id })
        : _("Plan %(id)s made.", { id: p.id }));
      load();
    } catch (e) { say(e.message, true); } finally { plan.disabled = false; }
  });
  load().catch((e) => say(e.message, true));
})();
