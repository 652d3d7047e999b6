// Handling per week and category (admins): the table, and the overdue work orders.
(function () {
  "use strict";
  const _ = i18n._;
  const names = JSON.parse(document.getElementById("tracking").dataset.categories);
  const toast = document.getElementById("toast");
  function td(text) { const c = document.createElement("td"); c.textContent = text === null || text === undefined ? "—" : String(text); return c; }
  async function get(path) {
    const r = await fetch(path, { credentials: "same-origin" });
    const data = await r.json();
    if (!r.ok) throw new Error(i18n.apiError(r.status, data));
    return data;
  }
  async function load() {
    const rows = await get("/api/v1/facilities/tracking");
    const body = document.getElementById("rows");
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      tr.append(td(r.week), td(names[r.category] || r.category), td(r.reports), td(r.opened), td(r.closed), td(r.rejected),
        td(r.median_h), td(r.p90_h), td(r.overdue));
      return tr;
    }));
    if (!rows.length) {
      const tr = document.createElement("tr"), cell = document.createElement("td");
      tr.className = "empty"; cell.colSpan = 9; cell.textContent = _("Nothing reported yet.");
      tr.append(cell); body.replaceChildren(tr);
    }
    const late = await get("/api/v1/facilities/overdue");
    document.getElementById("overdue").replaceChildren(...late.map((w) => {
      const li = document.createElement("li");
      li.textContent = _("#%(id)s %(category)s at %(asset)s, due %(due)s", { id: w.id, category: names[w.category] || w.category,
        asset: w.asset_code || "—", due: i18n.dateTime(w.due_at) });
      return li;
    }));
  }
  load().catch((err) => { toast.textContent = err.message; toast.hidden = false; toast.classList.add("bad"); });
})();
