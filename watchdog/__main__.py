"""``python -m watchdog`` runs the ``inference-watchdog`` command."""

from watchdog.cli import main

main(prog_name="inference-watchdog")
