"""Facilities' HTTP routes: the asset registry, Open311, work orders (fleet/main.py includes them)."""
