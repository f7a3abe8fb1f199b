"""``python -m harbor_wizard``: the same as the ``harbor-wizard`` command."""

from harbor_wizard.cli import run

run()
