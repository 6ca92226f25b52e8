"""The live digital twin of the hall (in memory, fed by bus events)."""
