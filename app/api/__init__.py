"""The REST API under /api: the contract integrators and our own tests rely on."""
