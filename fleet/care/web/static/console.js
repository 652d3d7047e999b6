// Alarm console: one EventSource (/api/v1/live/alarms); the first message is a snapshot, then one
// `alarm` event per transition. Acknowledge and resolve go to the caregiver API with the session.
(function () {
  "use strict";
  const alarms = new Map();          // id -> alarm view
  const notes = new Map();           // id -> resolve note being typed (survives re-renders)
  const cards = new Map();           // id -> element
  const live = document.getElementById("live");
  const soundBtn = document.getElementById("sound");
  const toast = document.getElementById("toast");
  const tpl = document.getElementById("card");
  const _ = i18n._, ngettext = i18n.ngettext, clock = i18n.time, ago = i18n.ago;
  const KINDS = { call: _("Call"), device_missing: _("Button missing"), battery_low: _("Battery low") };
  const STATES = { received: _("waiting"), acknowledged: _("acknowledged"), resolved: _("resolved"),
    cancelled: _("cancelled") };
  // History entries (alarm_events.action, docs/alarms.md) as people say them.
  const ACTIONS = {
    raised: _("alarm raised"), received: _("received by the fleet"), repeated: _("sent again by the button"),
    raised_after_cancel: _("alarm arrived after its cancel"), cancel_before_alarm: _("cancel arrived before its alarm"),
    cancelled: _("cancelled on the button"), cancel_after_ack: _("cancel pressed after acknowledgement: still go and check"),
    cancel_ignored: _("cancel ignored: the alarm was already closed"), acknowledged: _("acknowledged"),
    resolved: _("resolved"), auto_resolved: _("closed automatically"),
  };
  const RECENT_MS = 24 * 3600 * 1000;
  const FLEET = "fleet";             // the actor of what the fleet does by itself

  // ---- sound: browsers only allow it after a click, hence the button -----------------------
  let audio = null;
  function beep(times) {
    if (!audio) return;
    const t0 = audio.currentTime;
    for (let i = 0; i < times; i++) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = i % 2 ? 660 : 880;
      gain.gain.setValueAtTime(0.15, t0 + i * 0.25);
      gain.gain.setValueAtTime(0, t0 + i * 0.25 + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(t0 + i * 0.25);
      osc.stop(t0 + i * 0.25 + 0.2);
    }
  }
  soundBtn.addEventListener("click", () => {
    if (audio) {
      audio.close(); audio = null;
      soundBtn.textContent = _("Click to enable sound"); soundBtn.classList.add("off");
      soundBtn.setAttribute("aria-pressed", "false");
      return;
    }
    audio = new (window.AudioContext || window.webkitAudioContext)();
    soundBtn.textContent = "♪ " + _("Sound on"); soundBtn.classList.remove("off");
    soundBtn.setAttribute("aria-pressed", "true");
    beep(1);
  });
  // A reminder every 15 s while any call waits for an acknowledgement.
  setInterval(() => { if (waitingCalls().length) beep(2); }, 15000);

  // ---- helpers ----------------------------------------------------------------------------
  function set(el, text) { el.textContent = text == null || text === "" ? "—" : text; }
  function showToast(text, bad) {
    toast.textContent = text; toast.hidden = false; toast.classList.toggle("bad", !!bad);
    clearTimeout(showToast.timer);
    showToast.timer = setTimeout(() => { toast.hidden = true; }, 8000);
  }
  function waitingCalls() {
    return [...alarms.values()].filter((a) => a.category === "call" && a.state === "received");
  }

  async function api(method, path, body) {
    const response = await fetch(path, {
      method, credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok) throw new Error(i18n.apiError(response.status, data));
    return data;
  }

  // ---- one card ---------------------------------------------------------------------------
  function fill(card, a) {
    card.id = "alarm-" + a.id;
    card.dataset.id = a.id;
    card.dataset.updated = a.updated_at || "";
    card.className = "alarm cat-" + a.category + " st-" + a.state + (a.resident ? "" : " no-res");
    card.querySelector(".kind").textContent = KINDS[a.kind] || a.kind;
    card.querySelector(".state").textContent = STATES[a.state] || a.state;
    const since = card.querySelector(".since");
    since.dataset.iso = a.received_at; since.title = i18n.dateTime(a.received_at); since.textContent = ago(a.received_at);

    const res = card.querySelector(".resident");
    const none = card.querySelector(".no-resident");
    res.hidden = !a.resident; none.hidden = !!a.resident;
    if (a.resident) {
      res.querySelector(".name").textContent = a.resident.name;
      res.querySelector(".place").textContent = [a.resident.room ? _("Room %(room)s", { room: a.resident.room }) : "", a.resident.address]
        .filter(Boolean).join(" · ");
      const ul = res.querySelector(".contacts");
      ul.replaceChildren(...(a.resident.contacts || []).map((c) => {
        const li = document.createElement("li");
        li.textContent = [c.name, c.relation ? "(" + c.relation + ")" : "", c.phone].filter(Boolean).join(" ");
        return li;
      }));
      res.querySelector(".notes").textContent = a.resident.notes || "";
    }
    set(card.querySelector(".device"), a.device_id + (a.ref ? " · " + a.ref : ""));
    set(card.querySelector(".site"), a.site);
    const volts = a.battery_v == null ? "" : _("%(volts)s V", { volts: a.battery_v.toFixed(2) });
    set(card.querySelector(".battery"), a.days_left == null || !volts ? volts
      : ngettext("%(volts)s (%(n)s day left)", "%(volts)s (%(n)s days left)", a.days_left, { volts: volts }));
    set(card.querySelector(".received"), a.raised_at && a.raised_at !== a.received_at
      ? _("%(received)s (pressed %(pressed)s)", { received: clock(a.received_at), pressed: clock(a.raised_at) })
      : clock(a.received_at));
    let stage = a.stage ? _("stage %(stage)s: %(groups)s notified", { stage: a.stage, groups: a.groups.slice(1).join(", ") })
      : _("first responders");
    if (a.next_escalation_at) stage += " · " + _("next at %(time)s", { time: clock(a.next_escalation_at) });
    set(card.querySelector(".stage"), a.category === "call" ? stage : _("not escalated (maintenance)"));

    const acked = card.querySelector(".acked");
    acked.hidden = !a.acknowledged_at;
    acked.textContent = a.acknowledged_at
      ? _("Acknowledged by %(who)s at %(time)s", { who: a.acknowledged_by, time: clock(a.acknowledged_at) }) : "";
    const cancelReq = card.querySelector(".cancel-requested");
    cancelReq.hidden = !a.cancel_requested_at;
    cancelReq.textContent = a.cancel_requested_at
      ? _("The resident pressed cancel at %(time)s, after acknowledgement: still go and check.",
        { time: clock(a.cancel_requested_at) }) : "";
    const outcome = card.querySelector(".outcome");
    outcome.hidden = a.open;
    outcome.textContent = a.open ? "" : outcomeOf(a);

    card.querySelector(".ack").hidden = a.state !== "received";
    card.querySelector(".resolve").hidden = !a.open;
    const note = card.querySelector(".note");
    if (notes.has(a.id) && document.activeElement !== note) note.value = notes.get(a.id);
    const details = card.querySelector(".history");
    if (details.open) loadHistory(a.id, details);
  }

  function outcomeOf(a) {
    if (a.state === "cancelled") {
      return a.raised_at ? _("Cancelled on the button at %(time)s.", { time: clock(a.cancelled_at) })
        : _("Cancelled on the button at %(time)s (the cancel arrived before the alarm).", { time: clock(a.cancelled_at) });
    }
    const time = clock(a.resolved_at);
    if (a.resolved_by === FLEET) {          // supervision alarms close themselves; their note is the fleet's
      if (a.kind === "device_missing") return _("Closed automatically at %(time)s: the button was heard again.", { time });
      if (a.kind === "battery_low") return _("Closed automatically at %(time)s: the battery reads normal again.", { time });
      return _("Closed automatically at %(time)s.", { time });
    }
    return _("Resolved by %(who)s at %(time)s: %(note)s", { who: a.resolved_by, time, note: a.resolution_note || "" });
  }

  // Actors of the history: "fleet", "device:<id>", "user:<name>", "token:<name>", "cli:<name>".
  function actor(name) {
    if (name === FLEET) return _("the fleet");
    const colon = name.indexOf(":"), kind = name.slice(0, colon), who = name.slice(colon + 1);
    if (kind === "device") return _("button %(id)s", { id: who });
    if (kind === "cli") return _("%(name)s (command line)", { name: who });
    return colon > 0 ? who : name;
  }

  function makeCard(a) {
    const card = tpl.content.firstElementChild.cloneNode(true);
    card.querySelector(".ack").addEventListener("click", async (e) => {
      e.target.disabled = true;
      try {
        const done = await api("POST", "/api/v1/alarms/" + a.id + "/acknowledge");
        upsert(done);
        showToast(_("Acknowledged: the button shows that help is coming."));
      } catch (err) { showToast(err.message, true); }
      e.target.disabled = false;
    });
    const note = card.querySelector(".note");
    note.addEventListener("input", () => notes.set(a.id, note.value));
    card.querySelector(".resolve").addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = note.value.trim();
      if (!text) { showToast(_("Write what was done before resolving."), true); note.focus(); return; }
      try {
        const done = await api("POST", "/api/v1/alarms/" + a.id + "/resolve", { note: text });
        notes.delete(a.id);
        upsert(done);
      } catch (err) { showToast(err.message, true); }
    });
    const details = card.querySelector(".history");
    details.addEventListener("toggle", () => { if (details.open) loadHistory(a.id, details); });
    return card;
  }

  async function loadHistory(id, details) {
    try {
      const full = await api("GET", "/api/v1/alarms/" + id);
      details.querySelector("ol").replaceChildren(...full.history.map((h) => {
        const li = document.createElement("li");
        const d = h.detail || {};
        const action = h.action === "escalated"
          ? _("escalated to %(group)s (stage %(stage)s)", { group: d.group, stage: d.stage })
          : ACTIONS[h.action] || h.action.replace(/_/g, " ");
        li.textContent = _("%(time)s  %(action)s — %(actor)s", { time: clock(h.at), action, actor: actor(h.actor) });
        li.title = i18n.dateTime(h.at);
        return li;
      }));
    } catch (err) { showToast(err.message, true); }
  }

  // ---- the lists --------------------------------------------------------------------------
  function byOldest(a, b) { return Date.parse(a.received_at) - Date.parse(b.received_at) || a.id - b.id; }
  function render() {
    const all = [...alarms.values()];
    const calls = all.filter((a) => a.open && a.category === "call")
      .sort((a, b) => (a.state === "received" ? 0 : 1) - (b.state === "received" ? 0 : 1) || byOldest(a, b));
    const maintenance = all.filter((a) => a.open && a.category !== "call").sort(byOldest);
    const closed = all.filter((a) => !a.open && Date.now() - Date.parse(a.updated_at || a.received_at) < RECENT_MS)
      .sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at) || b.id - a.id).slice(0, 100);
    place("calls", calls, _("No open calls."));
    place("maintenance", maintenance, _("Nothing to do."));
    place("closed", closed, _("None."));
    document.getElementById("n-calls").textContent = calls.length;
    document.getElementById("n-maintenance").textContent = maintenance.length;
    document.getElementById("n-closed").textContent = closed.length;
    const waiting = waitingCalls().length;
    document.title = (waiting ? "(" + waiting + ") " : "") + _("Alarm console") + " · " + _("District fleet");
  }

  function place(where, list, emptyText) {
    const box = document.getElementById(where);
    const els = list.map((a) => {
      let card = cards.get(a.id);
      if (!card) { card = makeCard(a); cards.set(a.id, card); fill(card, a); }
      else if (card.dataset.updated !== (a.updated_at || "") || card.dataset.filled !== "1") fill(card, a);
      card.dataset.filled = "1";
      return card;
    });
    if (!els.length) {
      const p = document.createElement("p"); p.className = "empty"; p.textContent = emptyText;
      box.replaceChildren(p);
      return;
    }
    // Only move what moved, so that a note being typed keeps its focus.
    els.forEach((el, i) => { if (box.children[i] !== el) box.insertBefore(el, box.children[i] || null); });
    while (box.children.length > els.length) box.lastElementChild.remove();
  }

  function upsert(a) {
    const old = alarms.get(a.id);
    if (old && old.updated_at && a.updated_at && old.updated_at > a.updated_at) return;   // stale
    alarms.set(a.id, a);
    const card = cards.get(a.id);
    if (card) card.dataset.filled = "0";
    render();
  }

  // ---- live -------------------------------------------------------------------------------
  function connect() {
    const es = new EventSource("/api/v1/live/alarms");
    es.addEventListener("open", () => i18n.liveBadge(live, true));
    es.addEventListener("error", () => i18n.liveBadge(live, false));
    es.addEventListener("snapshot", (e) => {
      alarms.clear();
      JSON.parse(e.data).forEach((a) => alarms.set(a.id, a));
      cards.forEach((card) => { card.dataset.filled = "0"; });
      render();
    });
    es.addEventListener("alarm", (e) => {
      const msg = JSON.parse(e.data);
      const isNew = !alarms.has(msg.alarm_id);
      upsert(msg.alarm);
      if (msg.transition === "raised" && isNew) {
        beep(msg.category === "call" ? 4 : 1);
        const card = cards.get(msg.alarm_id);
        if (card) card.classList.add("fresh");
      }
    });
  }

  setInterval(() => document.querySelectorAll(".alarm .since").forEach((el) => { el.textContent = ago(el.dataset.iso); }), 1000);
  connect();
})();
