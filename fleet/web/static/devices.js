// Live device list: one EventSource; the first message is a snapshot, then changes.
(function () {
  "use strict";
  const devices = new Map();
  const rows = document.getElementById("rows");
  const live = document.getElementById("live");
  const search = document.getElementById("search");
  let filter = "";
  const LABELS = { online: "online", offline: "offline", never_seen: "never seen", revoked: "revoked" };

  function ago(iso) {
    if (!iso) return "never";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text == null || text === "" ? "—" : text;
    return td;
  }

  function rowFor(d) {
    const tr = document.createElement("tr");
    tr.id = "dev-" + d.id;
    tr.className = "s-" + d.status;
    const st = document.createElement("td");
    st.innerHTML = '<span class="dot"></span><span class="label"></span>';
    st.querySelector(".label").textContent = LABELS[d.status] || d.status;
    tr.append(st, cell(d.id, "id"), cell(d.role), cell(d.site), cell(d.board),
      cell(d.fw ? d.fw + " / " + (d.app || "?") : ""), cell(d.rssi == null ? "" : d.rssi + " dBm"));
    const seen = cell(ago(d.last_seen), "seen muted");
    seen.dataset.iso = d.last_seen || "";
    seen.title = d.last_seen || "";
    tr.append(seen);
    return tr;
  }

  function visible(d) {
    if (filter && d.status !== filter) return false;
    const q = search.value.trim().toLowerCase();
    return !q || [d.id, d.role, d.site, d.board].some((v) => (v || "").toLowerCase().includes(q));
  }

  function render() {
    const list = [...devices.values()].filter(visible).sort((a, b) => a.id.localeCompare(b.id));
    rows.replaceChildren(...list.map(rowFor));
    if (!list.length) rows.innerHTML = '<tr class="empty"><td colspan="8">No devices yet. Mint an enrollment token: <code>fleet enroll-token create</code></td></tr>';
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
    es.addEventListener("open", () => { live.textContent = "live"; live.classList.remove("off"); });
    es.addEventListener("error", () => { live.textContent = "reconnecting…"; live.classList.add("off"); });
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
        if (td) { td.dataset.iso = iso; td.title = iso; }
      });
    });
    es.addEventListener("device", (e) => { const d = JSON.parse(e.data); update(d.id, d); });
  }

  document.querySelectorAll(".count").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll(".count").forEach((x) => x.classList.remove("active"));
    b.classList.add("active");
    filter = b.dataset.filter;
    render();
  }));
  search.addEventListener("input", render);
  setInterval(() => document.querySelectorAll("td.seen").forEach((td) => { td.textContent = ago(td.dataset.iso); }), 1000);
  connect();
})();
