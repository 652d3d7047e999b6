// Live device list: one EventSource; the first message is a snapshot, then changes.
(function () {
  "use strict";
  const devices = new Map();
  const rows = document.getElementById("rows");
  const live = document.getElementById("live");
  const search = document.getElementById("search");
  let filter = "";
  const _ = i18n._, ago = i18n.ago;
  const LABELS = { online: _("online"), offline: _("offline"), never_seen: _("never seen"), revoked: _("revoked") };
  const ROLES = { call_button: _("call button"), smart_bin: _("smart bin"), beacon: _("facility beacon") };

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text == null || text === "" ? "—" : text;
    return td;
  }

  // A device's tags as chips (people's labels, fleet/domain/tags.py); none: a dash.
  function tagCell(tags) {
    if (!tags || !tags.length) return cell("", "tags");
    const td = document.createElement("td");
    td.className = "tags";
    td.append(...tags.map((t) => { const s = document.createElement("span"); s.className = "tag"; s.textContent = t; return s; }));
    return td;
  }

  function rowFor(d) {
    const tr = document.createElement("tr");
    tr.id = "dev-" + d.id;
    tr.className = "s-" + d.status;
    const st = document.createElement("td");
    st.innerHTML = '<span class="dot"></span><span class="label"></span>';
    st.querySelector(".label").textContent = LABELS[d.status] || d.status;
    tr.append(st, cell(d.id, "id"), cell(ROLES[d.role] || d.role), cell(d.site), cell(d.board), tagCell(d.tags),
      cell(d.fw ? d.fw + " / " + (d.app || "?") : ""), cell(d.rssi == null ? "" : _("%(rssi)s dBm", { rssi: d.rssi })));
    const seen = cell(ago(d.last_seen), "seen");
    seen.classList.add("muted");
    seen.dataset.iso = d.last_seen || "";
    seen.title = i18n.dateTime(d.last_seen);
    tr.append(seen);
    return tr;
  }

  function visible(d) {
    if (filter && d.status !== filter) return false;
    const q = search.value.trim().toLowerCase();
    return !q || [d.id, d.role, ROLES[d.role], d.site, d.board, ...(d.tags || [])].some((v) => (v || "").toLowerCase().includes(q));
  }

  // Nothing to show: no device at all (the page says how to add one) or none that passes the filter.
  function emptyRow() {
    const row = document.getElementById(devices.size ? "empty-filtered" : "empty-none").content.firstElementChild.cloneNode(true);
    const clear = row.querySelector(".clear-filter");
    if (clear) clear.addEventListener("click", () => { search.value = ""; choose(document.querySelector(".count.all")); });
    return row;
  }

  function render() {
    const list = [...devices.values()].filter(visible).sort((a, b) => a.id.localeCompare(b.id));
    rows.replaceChildren(...(list.length ? list.map(rowFor) : [emptyRow()]));
    counts();
  }

  function counts() {
    const n = { all: devices.size, online: 0, offline: 0, never_seen: 0, revoked: 0 };
    devices.forEach((d) => { n[d.status] = (n[d.status] || 0) + 1; });
    Object.keys(n).forEach((k) => { const el = document.getElementById("n-" + k); if (el) el.textContent = n[k]; });
  }

  function update(id, changes) {
    const d = Object.assign(devices.get(id) || { id: id }, changes);
    devices.set(id, d);
    const old = document.getElementById("dev-" + id);
    if (!visible(d)) { if (old) old.remove(); counts(); return; }
    if (!old) { render(); return; }
    const fresh = rowFor(d);
    if (changes.status && changes.status !== old.className.slice(2)) fresh.classList.add("flash");
    old.replaceWith(fresh);
    counts();
  }

  function connect() {
    const es = new EventSource("/api/v1/live/devices");
    es.addEventListener("open", () => i18n.liveBadge(live, true));
    es.addEventListener("error", () => i18n.liveBadge(live, false));
    es.addEventListener("snapshot", (e) => {
      devices.clear();
      JSON.parse(e.data).forEach((d) => devices.set(d.id, d));
      render();
    });
    es.addEventListener("status", (e) => {
      const c = JSON.parse(e.data);
      update(c.device_id, { status: c.new, last_seen: c.last_seen });
    });
    es.addEventListener("seen", (e) => {
      Object.entries(JSON.parse(e.data)).forEach(([id, iso]) => {
        const d = devices.get(id);
        if (d) d.last_seen = iso;
        const td = document.querySelector("#dev-" + CSS.escape(id) + " td.seen");
        if (td) { td.dataset.iso = iso; td.title = i18n.dateTime(iso); }
      });
    });
    es.addEventListener("device", (e) => { const d = JSON.parse(e.data); update(d.id, d); });
  }

  function choose(button) {
    document.querySelectorAll(".count").forEach((x) => x.classList.remove("active"));
    button.classList.add("active");
    filter = button.dataset.filter;
    render();
  }
  document.querySelectorAll(".count").forEach((b) => b.addEventListener("click", () => choose(b)));
  search.addEventListener("input", render);
  setInterval(() => document.querySelectorAll("td.seen").forEach((td) => { td.textContent = ago(td.dataset.iso); }), 1000);
  connect();
})();
