"""Care's routes: alarms (+ their live stream), residents, escalation policies."""
