// The technician's view (phone first): my open work orders, nearest first; open an asset by its
// code or by scanning its QR label; update a work order. Offline-tolerant: every update is put in
// a queue kept in localStorage, each with its own idempotency key, and sent in order; an update
// that could not be sent (no connection, server down) stays queued and is sent again when the
// browser is back online, every 15 s, and when the page is opened again. The server applies each
// key once, so a reply lost on the way back does no harm when the update is sent again.
(function () {
  "use strict";
  const _ = i18n._, ngettext = i18n.ngettext;
  const root = document.getElementById("tech");
  const NAMES = JSON.parse(root.dataset.categories), TYPES = JSON.parse(root.dataset.types);
  const QUEUE = "fleet.tech.queue." + root.dataset.me;
  const orders = document.getElementById("orders"), toast = document.getElementById("toast");
  const queueNote = document.getElementById("queue"), where = document.getElementById("where");
  const STATES = { new: _("New"), assigned: _("Assigned"), in_progress: _("In progress"), resolved: _("Resolved"),
    closed: _("Closed"), rejected: _("Rejected") };
  const ERRORS = { other_team: _("This work order belongs to another team."),
    already_closed: _("This work order is already closed."), work_order_done: _("This work order is finished."),
    bad_transition: _("This step does not fit the work order's state now."),
    note_required: _("Write what was done before resolving."), reason_required: _("Write why it is rejected."),
    photo_unreadable: _("The photo could not be read."), photo_type: _("The photo must be a JPEG, PNG or WebP picture."),
    photo_size: _("The photo is too large.") };
  let here = null, showing = null, list = [];

  function say(text, bad) { toast.textContent = text; toast.hidden = false; toast.classList.toggle("bad", !!bad); }
  function queue() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function save(q) {
    localStorage.setItem(QUEUE, JSON.stringify(q));
    queueNote.hidden = !q.length;
    queueNote.textContent = ngettext("%(n)s update waiting to be sent", "%(n)s updates waiting to be sent", q.length);
  }
  function key() {
    const bytes = new Uint8Array(9);
    crypto.getRandomValues(bytes);
    return "tech:" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- sending ------------------------------------------------------------------------------
  let flushing = false;
  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      let q = queue();
      while (q.length) {
        const item = q[0];
        let r;
        try {
          r = await fetch("/api/v1/workorders/" + item.wo + "/actions", { method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json" }, body: JSON.stringify(item.body) });
        } catch (e) { break; }                          // offline: keep it, try again later
        if (r.status >= 500 || r.status === 429) break;  // the server will be back: keep it
        q = queue().filter((i) => i.body.idem_key !== item.body.idem_key);
        save(q);
        if (!r.ok) {
          const data = await r.json().catch(() => null);
          say(i18n.apiError(r.status, data, ERRORS), true);
        } else {
          say(_("Saved."));
        }
      }
    } finally {
      flushing = false;
    }
    await load().catch(() => {});
  }
  function send(wo, body) {
    body.idem_key = key();
    const q = queue();
    q.push({ wo: wo, body: body });
    save(q);
    flush();
  }

  // ---- showing --------------------------------------------------------------------------------
  function distanceKm(w) {
    if (!here || w.asset_lat === null || w.asset_lon === null) return null;
    const rad = Math.PI / 180, dLat = (w.asset_lat - here.lat) * rad, dLon = (w.asset_lon - here.lon) * rad;
    const a = Math.sin(dLat / 2) ** 2 + Math.cos(here.lat * rad) * Math.cos(w.asset_lat * rad) * Math.sin(dLon / 2) ** 2;
    return 12742 * Math.asin(Math.sqrt(a));
  }
  function button(text, cls, fn) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = text; b.className = [].concat(cls || []).join(" "); b.addEventListener("click", fn);
    return b;
  }
  function card(w) {
    const el = document.createElement("article");
    el.className = "wo st-" + w.state + (w.overdue ? " overdue" : "");
    el.id = "wo-" + w.id;
    const h = document.createElement("h3");
    const link = document.createElement("a");
    link.href = "/a/" + (w.asset_code || ""); link.textContent = (TYPES[w.asset_type] || "") + " " + (w.asset_code || "");
    h.append(link);
    const what = document.createElement("div");
    what.textContent = NAMES[w.category] || w.category;
    const meta = document.createElement("div");
    meta.className = "meta";
    const km = distanceKm(w);
    meta.textContent = [w.asset_address, km === null ? null : _("%(km)s km away", { km: km.toFixed(1) }),
      w.overdue ? _("overdue since %(when)s", { when: i18n.dateTime(w.due_at) }) : _("due %(when)s", { when: i18n.dateTime(w.due_at) })]
      .filter(Boolean).join(" · ");
    const state = document.createElement("div");
    state.className = "state";
    state.textContent = STATES[w.state] + (w.assignee ? " · " + w.assignee : "");
    const pending = queue().filter((i) => i.wo === w.id).length;
    const acts = document.createElement("div");
    acts.className = "acts";
    const form = document.createElement("div");
    if (["new", "assigned"].includes(w.state)) {
      if (!w.assignee) acts.append(button(_("Take it"), ["secondary", "take"], () => send(w.id, { action: "take" })));
      acts.append(button(_("Start"), "start", () => send(w.id, { action: "start" })));
    }
    if (["new", "assigned", "in_progress"].includes(w.state)) {
      acts.append(button(_("Resolve…"), "resolve", () => resolveForm(w, form)));
      acts.append(button(_("Reject…"), ["secondary", "reject"], () => rejectForm(w, form)));
    }
    if (w.state === "resolved") acts.append(button(_("Close"), "close", () => send(w.id, { action: "close" })));
    el.append(h, what, meta, state, acts, form);
    if (pending) {
      const p = document.createElement("div");
      p.className = "queue"; p.textContent = _("Update waiting to be sent");
      el.append(p);
    }
    return el;
  }
  function resolveForm(w, box) {
    const note = document.createElement("textarea");
    note.maxLength = 2000; note.rows = 2; note.placeholder = _("What was done"); note.className = "note";
    const photo = document.createElement("input");
    photo.type = "file"; photo.accept = "image/jpeg,image/png,image/webp"; photo.className = "photo";
    photo.setAttribute("aria-label", _("Photo (optional)"));
    box.replaceChildren(note, photo, button(_("Save as resolved"), "save", async () => {
      const body = { action: "resolve", note: note.value };
      const file = photo.files[0];
      if (file) {
        const data = await new Promise((ok) => { const r = new FileReader(); r.onload = () => ok(r.result); r.readAsDataURL(file); });
        body.photo = { type: file.type, data: String(data).split(",")[1] };
      }
      send(w.id, body);
    }));
  }
  function rejectForm(w, box) {
    const reason = document.createElement("textarea");
    reason.maxLength = 2000; reason.rows = 2; reason.className = "reason";
    reason.placeholder = _("Why (the reporter reads this)");
    box.replaceChildren(reason, button(_("Reject"), ["danger", "save"], () => send(w.id, { action: "reject", reason: reason.value })));
  }
  function render() {
    const sorted = list.slice().sort((a, b) => {
      const da = distanceKm(a), db = distanceKm(b);
      if (da !== null && db !== null && da !== db) return da - db;
      return (a.due_at || "").localeCompare(b.due_at || "");
    });
    orders.replaceChildren(...sorted.map(card));
    if (!sorted.length) {
      const p = document.createElement("p");
      p.className = "hint"; p.textContent = showing ? _("No open work order for this asset.") : _("No open work orders: well done.");
      orders.append(p);
    }
  }
  async function load() {
    const path = showing ? "/api/v1/workorders?open=true&asset=" + encodeURIComponent(showing) : "/api/v1/workorders?open=true&mine=true";
    let r;
    try { r = await fetch(path, { credentials: "same-origin" }); } catch (e) {
      say(_("Offline: showing the last list; updates are kept and sent later."), true);
      return;
    }
    const data = await r.json();
    if (!r.ok) { say(i18n.apiError(r.status, data), true); return; }
    list = data;
    try { localStorage.setItem(QUEUE + ".list." + (showing || ""), JSON.stringify(list)); } catch (e) { /* full */ }
    render();
  }
  function open(code) {
    showing = code ? code.trim().toUpperCase().replace(/[\s-]/g, "") : null;
    document.getElementById("mine").hidden = !showing;
    document.querySelector("h1").textContent = showing ? _("Work orders of %(code)s", { code: showing }) : _("My work orders");
    try { list = JSON.parse(localStorage.getItem(QUEUE + ".list." + (showing || "")) || "[]"); } catch (e) { list = []; }
    render();
    load().catch((err) => say(err.message, true));
  }

  document.getElementById("find").addEventListener("submit", (e) => { e.preventDefault(); open(new FormData(e.target).get("code")); });
  document.getElementById("mine").addEventListener("click", () => open(null));
  // Scanning: the browser's own QR reader where it has one (Chrome on Android); else type the code.
  if ("BarcodeDetector" in window) {
    document.getElementById("scan-label").hidden = false;
    document.getElementById("scan").addEventListener("change", async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      try {
        const found = await new window.BarcodeDetector({ formats: ["qr_code"] }).detect(await createImageBitmap(file));
        const m = found.length ? /\/a\/([0-9A-Za-z-]+)/.exec(found[0].rawValue) : null;
        if (m) open(m[1]); else say(_("No asset code found in the picture."), true);
      } catch (err) { say(_("No asset code found in the picture."), true); }
    });
  }
  if (navigator.geolocation) {
    navigator.geolocation.getCurrentPosition((p) => {
      here = { lat: p.coords.latitude, lon: p.coords.longitude };
      where.textContent = _("Sorted by distance from you.");
      render();
    }, () => { where.textContent = _("Sorted by due time (location not available)."); }, { timeout: 10000, maximumAge: 60000 });
  }
  window.addEventListener("online", flush);
  setInterval(flush, 15000);
  save(queue());
  open(new URLSearchParams(location.search).get("code"));
  flush();
})();
