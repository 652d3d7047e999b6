// Why a bin is on a plan, and why one is left out, worded in the reader's language from the
// plan's stable codes and values (fleet/waste/reasons.py: the same English sentences). A code
// this page does not know yet shows the API's English `reason`.
(function () {
  "use strict";
  const _ = i18n._;
  const WHY = {
    fire: () => _("fire"),
    carried: () => _("not emptied on an earlier plan"),
    at_threshold: (p) => _("at %(pct)s % (threshold %(threshold)s %)", p),
    threshold_before_next: (p) => _("forecast to reach %(threshold)s % before the next shift", p),
    may_overflow: () => _("could be full before the next shift on a day like its busiest"),
  };
  const LEFT = {
    no_location: () => _("no location: add lat/lon to route it"),
    too_far: (p) => _("too far for the working time: %(km)s km there and back at %(speed)s km/h exceeds the %(shift_h)s h shift", p),
    too_large: (p) => _("larger than a truck: %(litres)s L > %(capacity)s L", p),
    trucks_full: (p) => _("trucks full: %(trucks)s truck(s) x %(capacity)s L for %(need)s L of waste", p),
    time_used: (p) => _("working time used up: %(trucks)s truck(s) x %(shift_h)s h", p),
    infeasible: (p) => _("no plan within capacity and working time found in %(seconds)s s", p),
  };
  function word(table, x) {
    if (!x) return "";
    const f = table[x.code];
    return f ? f(x.params || {}) : x.reason;
  }
  window.wasteReasons = { why: (x) => word(WHY, x), left: (x) => word(LEFT, x) };
})();
