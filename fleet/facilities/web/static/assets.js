// The asset registry: list and search, CSV import (technicians and admins; the API enforces it).
(function () {
  "use strict";
  const _ = i18n._, ngettext = i18n.ngettext;
  const rows = document.getElementById("rows");
  const toast = document.getElementById("toast");
  const TYPES = { streetlight: _("Streetlight"), manhole_cover: _("Manhole cover"), bin: _("Bin"), other: _("Other") };
  const ERRORS = { bad_csv: _("The CSV was not imported:") };
  function say(text, bad) { toast.textContent = text; toast.hidden = false; toast.classList.toggle("bad", !!bad); }
  function td(text) { const c = document.createElement("td"); c.textContent = text || "—"; return c; }
  async function load(q) {
    const r = await fetch("/api/v1/assets?limit=1000" + (q ? "&q=" + encodeURIComponent(q) : ""), { credentials: "same-origin" });
    const data = await r.json();
    if (!r.ok) throw new Error(i18n.apiError(r.status, data));
    rows.replaceChildren(...data.map((a) => {
      const tr = document.createElement("tr");
      const code = document.createElement("td"), link = document.createElement("a");
      link.href = "/a/" + a.code; link.textContent = a.label; code.append(link); code.className = "id";
      tr.append(code, td(TYPES[a.type] || a.type), td(a.name), td(a.address), td(a.area), td(a.maintainer),
        td(a.device_id), td(a.fault));
      return tr;
    }));
    if (!data.length) {
      const tr = document.createElement("tr"), cell = document.createElement("td");
      tr.className = "empty"; cell.colSpan = 8; cell.textContent = _("No assets yet.");
      tr.append(cell); rows.replaceChildren(tr);
    }
  }
  document.getElementById("search").addEventListener("submit", (e) => {
    e.preventDefault();
    load(new FormData(e.target).get("q")).catch((err) => say(err.message, true));
  });
  const form = document.getElementById("import");
  if (form) form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = new FormData(form).get("file");
    const r = await fetch("/api/v1/assets/import", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "text/csv" }, body: await file.text() });
    const data = await r.json();
    if (!r.ok) { say(data.error && data.error.code === "bad_csv" ? ERRORS.bad_csv + " " + data.error.message : i18n.apiError(r.status, data), true); return; }
    say(ngettext("%(n)s asset imported.", "%(n)s assets imported.", data.created));
    form.reset(); load();
  });
  load().catch((err) => say(err.message, true));
})();
