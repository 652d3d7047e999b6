// The crew's route on a phone: one truck's stops in order with the map, marks (collected / could
// not access), print, CSV and GPX. A mark is the crew's word; the bin's own "emptied" confirms it.
(function () {
  "use strict";
  const _ = i18n._;
  const toast = document.getElementById("toast");
  const truckSel = document.getElementById("truck");
  let plan = null;
  function say(text, bad) { toast.textContent = text; toast.hidden = false; toast.classList.toggle("bad", !!bad); }
  async function api(method, path, body) {
    const r = await fetch(path, { method, credentials: "same-origin", headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined });
    const data = r.status === 204 ? null : await r.json();
    if (!r.ok) throw new Error(i18n.apiError(r.status, data));
    return data;
  }
  const STATE = { planned: _("to do"), collected: _("collected"), no_access: _("could not access"),
    confirmed: _("emptied (confirmed by the bin)"), replanned: _("moved to a later plan") };
  function show() {
    const truck = Number(truckSel.value || 1);
    const stops = plan.stops.filter((s) => s.truck === truck);
    document.getElementById("csv").href = "/api/v1/waste/plans/" + plan.id + "/route.csv?truck=" + truck;
    document.getElementById("gpx").href = "/api/v1/waste/plans/" + plan.id + "/route.gpx?truck=" + truck;
    binMap.draw(document.getElementById("map"), stops.map((s) => ({ id: s.bin_id, lat: s.lat, lon: s.lon, pct: s.pct,
      label: String(s.seq), title: s.seq + ". " + s.bin_id })), stops.map((s) => [s.lat, s.lon]), null);
    document.getElementById("stops").replaceChildren(...stops.map((s) => {
      const li = document.createElement("li");
      li.id = "stop-" + s.id;
      li.className = s.state === "planned" ? "" : "done";
      const head = document.createElement("strong");
      head.textContent = s.bin_id + (s.name ? " " + s.name : "");
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = [s.waste_type, s.pct === null ? null : s.pct + " %", i18n.time(new Date(s.eta * 1000).toISOString()),
        STATE[s.state] || s.state].filter(Boolean).join(" · ");
      const why = document.createElement("span");
      why.className = "why";
      why.textContent = wasteReasons.why((plan.summary.why || {})[s.bin_id]);
      li.append(head, what, why);
      if (s.state === "planned" || s.state === "collected" || s.state === "no_access") {
        [["collected", _("Collected")], ["no_access", _("Could not access")]].forEach(([state, label]) => {
          const b = document.createElement("button");
          b.type = "button"; b.className = "no-print"; b.textContent = label; b.dataset.state = state;
          b.addEventListener("click", async () => {
            try { await api("POST", "/api/v1/waste/stops/" + s.id, { state }); s.state = state; show(); }
            catch (e) { say(e.message, true); }
          });
          li.append(b);
        });
      }
      return li;
    }));
    if (!stops.length) document.getElementById("stops").replaceChildren(Object.assign(document.createElement("li"),
      { textContent: _("No stops for this truck.") }));
  }
  async function load() {
    try { plan = await api("GET", "/api/v1/waste/plans/latest"); }
    catch (e) { document.getElementById("plan-info").textContent = _("No plan yet."); return; }
    const trucks = plan.summary.trucks;
    truckSel.replaceChildren(...Array.from({ length: trucks }, (_v, i) => {
      const o = document.createElement("option"); o.value = String(i + 1); o.textContent = String(i + 1); return o;
    }));
    const info = [_("Plan %(id)s, shift from %(start)s.", { id: plan.id, start: i18n.dateTime(new Date(plan.shift_start * 1000).toISOString()) })];
    if (plan.status === "time_limit") info.push(_("The solver stopped at its time limit: best plan found so far."));
    if (plan.summary.left.length) info.push(_("%(n)s bins left out: %(why)s", { n: plan.summary.left.length,
      why: plan.summary.left.slice(0, 3).map((l) => l.id + " (" + wasteReasons.left(l) + ")").join("; ") }));
    document.getElementById("plan-info").textContent = info.join(" ");
    show();
  }
  truckSel.addEventListener("change", show);
  document.getElementById("print").addEventListener("click", () => window.print());
  load().catch((e) => say(e.message, true));
})();
