"""The hall's seed data (seed/<HALL_SEED>/*.yaml) and its idempotent loader; run it with `python -m seed`."""

from seed.loader import SeedReport, load_seed
from seed.schema import Seed, SeedError, read_seed

__all__ = ['Seed', 'SeedError', 'SeedReport', 'load_seed', 'read_seed']
