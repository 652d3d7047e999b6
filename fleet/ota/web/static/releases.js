// Updates: rollouts (live), releases, keys; the forms to start a rollout and upload a release.
(function () {
  "use strict";
  const _ = i18n._;
  const toast = document.getElementById("toast");
  const live = document.getElementById("live");
  const STATES = { running: _("running"), waiting: _("waiting for a person"), paused: _("paused"),
    aborted: _("aborted"), completed: _("completed") };
  const ERRORS = { conflict: _("That is not possible now: reload the page to see where it stands."),
    invalid_tag: _("A tag is 1 to 32 lower-case letters, digits, '-', '_' or ':', starting with a letter or digit."),
    too_many_tags: _("A device has at most 16 tags: a target with more reaches no device.") };
  function say(text, bad) { toast.textContent = text; toast.hidden = false; toast.classList.toggle("bad", !!bad); }
  async function api(method, path, body, form) {
    const opts = { method, credentials: "same-origin" };
    if (form) opts.body = form;
    else if (body) { opts.body = JSON.stringify(body); opts.headers = { "Content-Type": "application/json" }; }
    const r = await fetch(path, opts);
    const data = await r.json();
    if (!r.ok) throw new Error(i18n.apiError(r.status, data, ERRORS));
    return data;
  }
  function td(text, cls) { const c = document.createElement("td"); c.textContent = text === null || text === undefined || text === "" ? "—" : String(text); if (cls) c.className = cls; return c; }
  function empty(tbody, cols, text) {
    const tr = document.createElement("tr"), c = document.createElement("td");
    tr.className = "empty"; c.colSpan = cols; c.textContent = text; tr.append(c); tbody.replaceChildren(tr);
  }
  const rolloutRows = document.getElementById("rollouts");
  function rolloutRow(r) {
    const tr = document.createElement("tr");
    tr.id = "rollout-" + r.id;
    const link = document.createElement("a");
    link.href = "/ota/rollouts/" + r.id; link.textContent = "#" + r.id;
    const first = document.createElement("td"); first.append(link);
    const sum = (k) => r.phases.reduce((n, p) => n + p[k], 0);
    const phase = r.phases[Math.min(r.phase, r.phases.length - 1)];
    tr.append(first, td(r.release_id), td(STATES[r.state] || r.state, "rstate-cell " + r.state), td(phase ? phase.name : ""),
      td(sum("succeeded")), td(sum("failed")), td(sum("in_progress")), td(r.created_at ? i18n.dateTime(r.created_at) : ""));
    return tr;
  }
  async function loadRollouts() {
    const list = await api("GET", "/api/v1/ota/rollouts");
    if (!list.length) return empty(rolloutRows, 8, _("No rollouts yet."));
    rolloutRows.replaceChildren(...list.map(rolloutRow));
  }
  const releaseRows = document.getElementById("releases");
  const select = document.querySelector("#start select[name=release]");
  async function loadReleases() {
    const list = await api("GET", "/api/v1/ota/releases");
    if (!list.length) empty(releaseRows, 9, _("No releases yet."));
    else releaseRows.replaceChildren(...list.map((r) => {
      const tr = document.createElement("tr");
      tr.id = "release-" + r.id;
      tr.append(td(r.id), td(r.kind), td(r.version), td(r.sv), td(r.size), td(r.key_id),
        td(r.boards.join(", ") + " / " + r.roles.join(", ")), td(r.devices), td(i18n.dateTime(r.uploaded_at)));
      return tr;
    }));
    if (select) select.replaceChildren(...list.map((r) => { const o = document.createElement("option"); o.value = o.textContent = r.id; return o; }));
  }
  async function loadKeys() {
    const keys = await api("GET", "/api/v1/ota/keys");
    document.getElementById("keys").replaceChildren(...keys.map((k) => {
      const li = document.createElement("li");
      li.textContent = k.id + (k.revoked_at ? " — " + _("revoked") : "");
      return li;
    }));
  }
  function list(text) { return (text || "").split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean); }
  const start = document.getElementById("start");
  if (start) start.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(start);
    const canary = list(f.get("canary"));
    const phases = [canary.length ? { name: "canary", devices: canary } : { name: "canary", count: 1 }];
    list(f.get("percents")).forEach((p) => phases.push({ name: p + "%", percent: parseInt(p, 10) }));
    const target = {};
    if (list(f.get("roles")).length) target.roles = list(f.get("roles"));
    if (list(f.get("sites")).length) target.sites = list(f.get("sites"));
    if (list(f.get("tags")).length) target.tags = list(f.get("tags"));
    const body = { release_id: f.get("release"), target, plan: { phases,
      success: { threshold: parseInt(f.get("threshold"), 10), auto: !f.get("manual") },
      abort: { failure_pct: parseInt(f.get("failure_pct"), 10) }, rate_per_min: parseInt(f.get("rate"), 10) } };
    try { const r = await api("POST", "/api/v1/ota/rollouts", body); location.href = "/ota/rollouts/" + r.id; }
    catch (err) { say(err.message, true); }
  });
  const upload = document.getElementById("upload");
  if (upload) upload.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(upload);
    if (!f.get("artifact") || !f.get("artifact").size) f.delete("artifact");
    try { const r = await api("POST", "/api/v1/ota/releases", null, f); upload.reset(); say(_("Release %(id)s uploaded.", { id: r.id })); loadReleases(); }
    catch (err) { say(err.message, true); }
  });
  Promise.all([loadRollouts(), loadReleases(), loadKeys()]).catch((err) => say(err.message, true));
  const es = new EventSource("/api/v1/live/ota");
  es.addEventListener("open", () => i18n.liveBadge(live, true));
  es.addEventListener("error", () => i18n.liveBadge(live, false));
  es.addEventListener("rollout", (e) => {
    JSON.parse(e.data);
    loadRollouts().catch((err) => say(err.message, true));
  });
})();
