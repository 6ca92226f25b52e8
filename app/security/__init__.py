"""Security primitives: field encryption, keyed hashes, passwords, signed codes, masking."""
