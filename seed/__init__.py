"""The hall description (HALL_SEED: a folder under seed/ or a path; docs/hall-description.md) and its idempotent
loader; run it with `python -m seed`."""

from seed.loader import SeedReport, load_seed
from seed.schema import Seed, SeedError, read_seed

__all__ = ['Seed', 'SeedError', 'SeedReport', 'load_seed', 'read_seed']
