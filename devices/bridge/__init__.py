"""The device bridge: real peripherals on a kiosk or window PC, connected to the hall over the device protocol."""
