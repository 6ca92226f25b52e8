"""Domain rules: each module one job, testable without a browser."""
