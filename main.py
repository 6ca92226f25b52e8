"""Entry point: `python main.py` (what `make run` starts) and NiceGUI's test harness both run this.

The settings are read first: some modules read the environment when imported (the arq worker's Redis), so a
bad value must stop here, with its one line, before they raise a traceback of their own.
"""

from app.settings import get_settings

if __name__ in {'__main__', '__mp_main__'}:
    get_settings()
    from app.main import run

    run()
