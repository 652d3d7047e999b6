// One rollout: phases and devices as they move (the live stream), the controls, the history.
(function () {
  "use strict";
  const _ = i18n._;
  const id = parseInt(location.pathname.split("/").pop(), 10);
  const toast = document.getElementById("toast");
  const live = document.getElementById("live");
  const STATES = { running: _("running"), waiting: _("waiting for a person"), paused: _("paused"),
    aborted: _("aborted"), completed: _("completed") };
  const STAGES = { waiting: _("not offered yet"), offered: _("offered"), deferred: _("deferred"), downloading: _("downloading"),
    verifying: _("verifying"), installed: _("installed"), pending: _("pending"), succeeded: _("succeeded"),
    failed: _("failed"), rolled_back: _("rolled back"), timed_out: _("timed out"), cancelled: _("cancelled") };
  const ACTIONS = { started: _("started"), pause: _("paused"), resume: _("resumed"), abort: _("aborted"),
    paused: _("paused itself"), waiting: _("waits for a person"), phase_started: _("phase started"),
    phase_done: _("phase done"), completed: _("completed") };
  const TARGET = { roles: _("roles"), boards: _("boards"), sites: _("sites"), versions: _("from versions"),
    devices: _("devices"), tags: _("tags (all of them)") };
  const ERRORS = { conflict: _("That is not possible now: reload the page to see where it stands.") };
  let phases = [];
  function say(text, bad) { toast.textContent = text; toast.hidden = false; toast.classList.toggle("bad", !!bad); }
  async function api(method, path, body) {
    const r = await fetch(path, { method, credentials: "same-origin", headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined });
    const data = await r.json();
    if (!r.ok) throw new Error(i18n.apiError(r.status, data, ERRORS));
    return data;
  }
  function td(text, cls) { const c = document.createElement("td"); c.textContent = text === null || text === undefined || text === "" ? "—" : String(text); if (cls) c.className = cls; return c; }
  function showState(r) {
    document.getElementById("title").textContent = "#" + r.id + " " + r.release_id;
    const parts = Object.keys(TARGET).filter((k) => r.target[k] && r.target[k].length)
      .map((k) => TARGET[k] + " " + r.target[k].join(", "));
    document.getElementById("target").textContent = parts.length ? _("Target: %(what)s", { what: parts.join(" · ") })
      : _("Target: any device");
    const st = document.getElementById("state");
    st.textContent = STATES[r.state] || r.state; st.className = "rstate " + r.state; st.dataset.state = r.state;
    const reason = document.getElementById("reason");
    reason.textContent = r.reason || ""; reason.hidden = !r.reason;
    const can = { pause: ["running", "waiting"], resume: ["paused", "waiting"], abort: ["running", "waiting", "paused"] };
    Object.keys(can).forEach((a) => { const b = document.getElementById(a); if (b) b.disabled = !can[a].includes(r.state); });
    phases = r.phases;
    document.getElementById("phases").replaceChildren(...r.phases.map((p) => {
      const tr = document.createElement("tr");
      tr.id = "phase-" + p.index;
      if (p.index === r.phase && r.state !== "completed") tr.className = "current";
      tr.append(td(p.name), td(p.size), td(p.total), td(p.succeeded), td(p.failed), td(p.in_progress), td(p.waiting));
      return tr;
    }));
  }
  function deviceRow(d) {
    const tr = document.createElement("tr");
    tr.id = "device-" + d.device_id;
    const upd = td(d.updated_at ? i18n.dateTime(d.updated_at) : "");
    tr.append(td(d.device_id), td(phases[d.phase] ? phases[d.phase].name : d.phase), td(STAGES[d.state] || d.state, "st-" + d.state),
      td(d.reason), td(d.state === "downloading" ? d.progress + "%" : ""), td(d.from_version), upd);
    tr.dataset.phase = d.phase;
    return tr;
  }
  function showHistory(h) {
    document.getElementById("history").replaceChildren(...h.map((e) => {
      const li = document.createElement("li");
      const what = ACTIONS[e.action] || e.action;
      const detail = e.detail ? " " + Object.entries(e.detail).map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join(" ") : "";
      li.textContent = i18n.dateTime(e.at) + " — " + what + " — " + e.actor + detail;
      return li;
    }));
  }
  async function load() {
    const r = await api("GET", "/api/v1/ota/rollouts/" + id);
    showState(r);
    document.getElementById("devices").replaceChildren(...r.devices.map(deviceRow));
    showHistory(r.history);
  }
  ["pause", "resume", "abort"].forEach((a) => {
    const b = document.getElementById(a);
    if (b) b.addEventListener("click", async () => {
      if (a === "abort" && !confirm(_("Abort this rollout? Devices that have not started will not update."))) return;
      try { const r = await api("POST", "/api/v1/ota/rollouts/" + id + "/" + a); showState(r); showHistory(r.history);
        document.getElementById("devices").replaceChildren(...r.devices.map(deviceRow)); }
      catch (err) { say(err.message, true); }
    });
  });
  load().catch((err) => say(err.message, true));
  const es = new EventSource("/api/v1/live/ota");
  es.addEventListener("open", () => i18n.liveBadge(live, true));
  es.addEventListener("error", () => i18n.liveBadge(live, false));
  es.addEventListener("device", (e) => {
    const d = JSON.parse(e.data);
    if (d.rollout !== id) return;
    const old = document.getElementById("device-" + d.device_id);
    if (!old) return load();
    const phase = parseInt(old.dataset.phase, 10);
    old.replaceWith(deviceRow({ device_id: d.device_id, phase, state: d.state, reason: d.reason, progress: d.progress,
      from_version: old.children[5].textContent === "—" ? null : old.children[5].textContent, updated_at: d.at }));
  });
  es.addEventListener("rollout", (e) => {
    const r = JSON.parse(e.data);
    if (r.id === id) load();
  });
})();
