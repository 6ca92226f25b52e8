"""`python -m devices.bridge.provision K01-PRN K01-QR ... --out DIR`: write devices' credential files.

Run on the hall server (it needs SECRET_KEY and DATABASE_URL, like `python -m devices.sim`): each
credential is derived from SECRET_KEY for a device that exists in the hall, and written to
`DIR/<CODE>.key`, readable by its owner only. Copy the files to the kiosk or window PC (e.g. with
scp) into the bridge's credentials_dir, and delete them from the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from app.db import Database
from app.security.credentials import device_credential
from app.services.halls import hall_to_serve
from app.settings import get_settings
from devices.sim.fleet import seeded_devices


def write_credential(directory: Path, code: str, credential: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f'{code}.key'
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='ascii') as file:
        file.write(credential + '\n')
    path.chmod(0o600)
    return path


async def provision(codes: list[str], directory: Path) -> int:
    settings = get_settings()
    db = Database(settings.db_url)
    try:
        async with db.read_session() as s:
            hall = await hall_to_serve(s, settings.hall_code)  # HALL_CODE: the hall the devices belong to
        assert hall.id is not None
        known = await seeded_devices(db, hall.id)
    finally:
        await db.dispose()
    unknown = [code for code in codes if code not in known]
    if unknown:
        print(
            f'no such device in this hall: {", ".join(unknown)} (see seed/<hall>/devices.yaml; a retired device, '
            'or one whose credential was issued on /admin, is not provisioned here: use the one shown on /admin)',
            file=sys.stderr,
        )
        return 2
    for code in codes:
        path = write_credential(directory, code, device_credential(settings.secret, code))
        print(f'{code} ({known[code].value}): {path}')
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m devices.bridge.provision', description=__doc__)
    parser.add_argument('codes', nargs='+', help='device codes, e.g. K01-PRN K01-QR K01-ID K01-CAM')
    parser.add_argument('--out', type=Path, default=Path('credentials'), help='where to write <CODE>.key files')
    args = parser.parse_args(argv)
    return asyncio.run(provision(args.codes, args.out))


if __name__ == '__main__':
    sys.exit(main())
