"""reviewcat's benchmarks: each stage as a user runs it (cold ``reviewcat`` processes) against what a
user would otherwise write, taking turns in the same run. Not part of the installed package:
``make bench`` runs ``python -m benchmarks`` from the project's root."""
