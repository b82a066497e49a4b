"""What the tests and the benchmarks share (plain functions, no pytest).

- :mod:`monitor.harness.services`: private Redis, PostgreSQL and ASGI servers on free loopback ports;
- :mod:`monitor.harness.faults`: the production cluster in private copies, for fault runs;
- :mod:`monitor.harness.week`: the demo week loaded into a store, alerts and rankings included.

Nothing in the service imports these; they live in the package so that ``bench/`` does not
import from ``tests/``.
"""
