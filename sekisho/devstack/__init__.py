"""A private, loopback-only mail stack for tests, benchmarks and ``make demo``.

Real Debian daemons, each with its own configuration and state under one run folder,
started and stopped by pid. Nothing here is used in production.
"""
