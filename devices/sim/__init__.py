"""Simulated devices that speak the real protocol over real websockets (`python -m devices.sim`)."""
