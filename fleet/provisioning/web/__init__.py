"""The provisioning capability's page."""
