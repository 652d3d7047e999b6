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
  const KINDS = { call: "Call", device_missing: "Button missing", battery_low: "Battery low" };
  const STATES = { received: "waiting", acknowledged: "acknowledged", resolved: "resolved", cancelled: "cancelled" };
  const RECENT_MS = 24 * 3600 * 1000;

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
      soundBtn.textContent = "Click to enable sound"; soundBtn.classList.add("off");
      soundBtn.setAttribute("aria-pressed", "false");
      return;
    }
    audio = new (window.AudioContext || window.webkitAudioContext)();
    soundBtn.textContent = "♪ Sound on"; soundBtn.classList.remove("off");
    soundBtn.setAttribute("aria-pressed", "true");
    beep(1);
  });
  // A reminder every 15 s while any call waits for an acknowledgement.
  setInterval(() => { if (waitingCalls().length) beep(2); }, 15000);

  // ---- helpers ----------------------------------------------------------------------------
  function ago(iso) {
    if (!iso) return "";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
  }
  function clock(iso) { return iso ? new Date(iso).toLocaleTimeString() : ""; }
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
    if (!response.ok) throw new Error(data && data.error ? data.error.message : "HTTP " + response.status);
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
    since.dataset.iso = a.received_at; since.title = a.received_at; since.textContent = ago(a.received_at);

    const res = card.querySelector(".resident");
    const none = card.querySelector(".no-resident");
    res.hidden = !a.resident; none.hidden = !!a.resident;
    if (a.resident) {
      res.querySelector(".name").textContent = a.resident.name;
      res.querySelector(".place").textContent = [a.resident.room ? "Room " + a.resident.room : "", a.resident.address]
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
    set(card.querySelector(".battery"), a.battery_v == null ? "" : a.battery_v.toFixed(2) + " V" +
      (a.days_left != null ? " (" + a.days_left + " days left)" : ""));
    set(card.querySelector(".received"), clock(a.received_at) + (a.raised_at && a.raised_at !== a.received_at
      ? " (pressed " + clock(a.raised_at) + ")" : ""));
    let stage = a.stage ? "stage " + a.stage + ": " + a.groups.slice(1).join(", ") + " notified" : "first responders";
    if (a.next_escalation_at) stage += " · next at " + clock(a.next_escalation_at);
    set(card.querySelector(".stage"), a.category === "call" ? stage : "not escalated (maintenance)");

    const acked = card.querySelector(".acked");
    acked.hidden = !a.acknowledged_at;
    acked.textContent = a.acknowledged_at ? "Acknowledged by " + a.acknowledged_by + " at " + clock(a.acknowledged_at) : "";
    const cancelReq = card.querySelector(".cancel-requested");
    cancelReq.hidden = !a.cancel_requested_at;
    cancelReq.textContent = a.cancel_requested_at
      ? "The resident pressed cancel at " + clock(a.cancel_requested_at) + ", after acknowledgement: still go and check." : "";
    const outcome = card.querySelector(".outcome");
    outcome.hidden = a.open;
    if (a.state === "resolved") outcome.textContent = "Resolved by " + a.resolved_by + " at " + clock(a.resolved_at) + ": " + (a.resolution_note || "");
    else if (a.state === "cancelled") outcome.textContent = "Cancelled on the button at " + clock(a.cancelled_at) + (a.raised_at ? "" : " (the cancel arrived before the alarm)");

    card.querySelector(".ack").hidden = a.state !== "received";
    card.querySelector(".resolve").hidden = !a.open;
    const note = card.querySelector(".note");
    if (notes.has(a.id) && document.activeElement !== note) note.value = notes.get(a.id);
    const details = card.querySelector(".history");
    if (details.open) loadHistory(a.id, details);
  }

  function makeCard(a) {
    const card = tpl.content.firstElementChild.cloneNode(true);
    card.querySelector(".ack").addEventListener("click", async (e) => {
      e.target.disabled = true;
      try {
        const done = await api("POST", "/api/v1/alarms/" + a.id + "/acknowledge");
        upsert(done);
        showToast("Acknowledged: the button shows that help is coming.");
      } catch (err) { showToast(err.message, true); }
      e.target.disabled = false;
    });
    const note = card.querySelector(".note");
    note.addEventListener("input", () => notes.set(a.id, note.value));
    card.querySelector(".resolve").addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = note.value.trim();
      if (!text) { showToast("Write what was done before resolving.", true); note.focus(); return; }
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
        const msg = h.detail && h.detail.message ? " — " + h.detail.message : "";
        li.textContent = clock(h.at) + "  " + h.action.replace(/_/g, " ") + " by " + h.actor + msg;
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
    place("calls", calls, "No open calls.");
    place("maintenance", maintenance, "Nothing to do.");
    place("closed", closed, "None.");
    document.getElementById("n-calls").textContent = calls.length;
    document.getElementById("n-maintenance").textContent = maintenance.length;
    document.getElementById("n-closed").textContent = closed.length;
    document.title = (waitingCalls().length ? "(" + waitingCalls().length + ") " : "") + "Alarm console · District fleet";
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
    es.addEventListener("open", () => { live.textContent = "live"; live.classList.remove("off"); });
    es.addEventListener("error", () => { live.textContent = "reconnecting…"; live.classList.add("off"); });
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
