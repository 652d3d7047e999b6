# Device roles. The runtime imports roles/<role>.py (config.json "role_module", else
# "role"); see supervisor.py and docs/firmware.md for the contract.
