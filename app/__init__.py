"""HallTwin domain core: settings, database, models, services, bus. No NiceGUI here (see app/main.py)."""
