// Residents: list, add, assign a call button (caregivers and admins; the API enforces it).
(function () {
  "use strict";
  const rows = document.getElementById("rows");
  const toast = document.getElementById("toast");
  const _ = i18n._;
  // Errors worded for these two forms; the rest as everywhere (i18n.apiError).
  const ERRORS = { not_found: _("No such resident or device: check the number and the device id.") };
  function say(text, bad) { toast.textContent = text; toast.hidden = false; toast.classList.toggle("bad", !!bad); }
  async function api(method, path, body) {
    const r = await fetch(path, { method, credentials: "same-origin", headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined });
    const data = r.status === 204 ? null : await r.json();
    if (!r.ok) throw new Error(i18n.apiError(r.status, data, ERRORS));
    return data;
  }
  function td(text) { const c = document.createElement("td"); c.textContent = text || "—"; return c; }
  async function load() {
    const list = await api("GET", "/api/v1/residents");
    rows.replaceChildren(...list.map((r) => {
      const tr = document.createElement("tr");
      tr.id = "resident-" + r.id;
      tr.append(td(String(r.id)), td(r.name), td(r.room), td(r.address),
        td(r.contacts.map((c) => [c.name, c.phone].filter(Boolean).join(" ")).join("; ")), td(r.devices.join(", ")));
      return tr;
    }));
    if (!list.length) {
      const tr = document.createElement("tr"), cell = document.createElement("td");
      tr.className = "empty"; cell.colSpan = 6; cell.textContent = _("No residents yet.");
      rows.replaceChildren(tr); tr.append(cell);
    }
  }
  const add = document.getElementById("add");
  if (add) add.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(add);
    const contact = (f.get("contact") || "").split(/[,，]/).map((s) => s.trim());   // either comma, as typed
    const body = { name: f.get("name"), room: f.get("room") || null, address: f.get("address") || null,
      notes: f.get("notes") || null, contacts: contact[0] ? [{ name: contact[0], phone: contact[1] || null }] : [] };
    try { const r = await api("POST", "/api/v1/residents", body); add.reset(); say(_("Resident #%(id)s added.", { id: r.id })); load(); }
    catch (err) { say(err.message, true); }
  });
  const assign = document.getElementById("assign");
  if (assign) assign.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(assign);
    try {
      await api("PUT", "/api/v1/residents/" + encodeURIComponent(f.get("resident")) + "/devices/" + encodeURIComponent(f.get("device")));
      assign.reset(); say(_("Button assigned.")); load();
    } catch (err) { say(err.message, true); }
  });
  load().catch((err) => say(err.message, true));
})();
