"""Device drivers, the websocket hub and simulated devices."""
