"""Smart bins (docs/smart-bins.md): the bins registry, fill history and forecasts, collection
plans with a route per truck, the crew's view, maintenance and fire alarms, FIWARE export."""
