"""OTA's routes: downloads (devices), releases and rollouts (people), the live stream."""
