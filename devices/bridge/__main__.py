"""`python -m devices.bridge --config bridge.toml [--check]`: connect this PC's peripherals to the hall.

Runs on a kiosk or window PC. Each configured peripheral connects to the hall's /ws/devices as its
own device with its own credential (docs/devices-setup.md). `--check` tries everything once and
prints what works and what does not, then exits (0: all well, 1: something failed, 2: bad config).
Running, it exits 3 once the hall has refused every peripheral's credential (restarting cannot help).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from devices.bridge import config as bridge_config
from devices.bridge.runner import Bridge, build_all, check_all

DEFAULT_CONFIG = Path('/etc/halltwin/bridge.toml')
REFUSED = 3  # every credential was refused: restarting cannot help (systemd: RestartPreventExitStatus=3)
QUIET_LIBRARIES = ('websockets', 'httpx', 'httpcore', 'serial_asyncio_fast')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m devices.bridge', description=__doc__)
    parser.add_argument('--config', type=Path, default=DEFAULT_CONFIG, help=f'the config file ({DEFAULT_CONFIG})')
    parser.add_argument('--check', action='store_true', help='test every peripheral once, print the result, exit')
    parser.add_argument('--verbose', action='store_true', help='log more (never anything personal)')
    return parser.parse_args(argv)


def configure_logging(*, verbose: bool) -> None:
    """Only the bridge's own logger gets more verbose: the libraries' debug output would show frame contents."""
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    logging.getLogger('devices.bridge').setLevel(logging.DEBUG if verbose else logging.INFO)
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel(logging.WARNING)


async def run(bridge: Bridge) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    bridge.start()
    waiting = loop.create_task(bridge.wait())
    await asyncio.wait([waiting, loop.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED)
    await bridge.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(verbose=args.verbose)
    try:
        config = bridge_config.load(args.config)
        if args.check:
            print(f'Checking {args.config} (hall server: {config.hub})')
            return 0 if asyncio.run(check_all(config, print)) else 1
        peripherals = build_all(config)
    except bridge_config.ConfigError as error:
        print(f'config problem: {error}', file=sys.stderr)
        return 2
    logging.getLogger('devices.bridge').info('bridge: %d peripheral(s) connecting to %s', len(peripherals), config.hub)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(Bridge(peripherals)))
    return REFUSED if all(p.refused for p in peripherals) else 0


if __name__ == '__main__':
    sys.exit(main())
