"""Entry point: `python main.py` (what `make run` starts) and NiceGUI's test harness both run this."""

from app.main import run

if __name__ in {'__main__', '__mp_main__'}:
    run()
