"""The utility library the simulated agents build.

Four independent modules, each usable on its own:

- :mod:`utils.validators`: email addresses.
- :mod:`utils.formatters`: dates, times and time zones.
- :mod:`utils.parsers`: safe and streaming JSON.
- :mod:`utils.strings`: slugify, truncate, sanitize.

Nothing here imports the simulator.
"""
