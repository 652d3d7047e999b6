"""Why a bin is on a plan, and why one is left out: stable codes with their values.

The API gives each as {"code", "params", "reason"}: `reason` is the English wording (for the CLI,
scripts and logs); pages word the code in the reader's language (the same sentences are msgids in
fleet/waste/web/static/reasons.js, so the catalogs translate them). A code never changes meaning.
"""

# code -> English wording with %(name)s placeholders for its params
WHY = {
    "fire": "fire",
    "carried": "not emptied on an earlier plan",
    "at_threshold": "at %(pct)s %% (threshold %(threshold)s %%)",
    "threshold_before_next": "forecast to reach %(threshold)s %% before the next shift",
    "may_overflow": "could be full before the next shift on a day like its busiest",
}

LEFT = {
    "no_location": "no location: add lat/lon to route it",
    "too_far": "too far for the working time: %(km)s km there and back at %(speed)s km/h exceeds the %(shift_h)s h shift",
    "too_large": "larger than a truck: %(litres)s L > %(capacity)s L",
    "trucks_full": "trucks full: %(trucks)s truck(s) x %(capacity)s L for %(need)s L of waste",
    "time_used": "working time used up: %(trucks)s truck(s) x %(shift_h)s h",
    "infeasible": "no plan within capacity and working time found in %(seconds)s s",
}


def why(code, **params):
    return {"code": code, "params": params, "reason": WHY[code] % params}


def left(bin_id, code, **params):
    return {"id": bin_id, "code": code, "params": params, "reason": LEFT[code] % params}
