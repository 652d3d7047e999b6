"""The provisioning capability's routes."""
