"""``python -m harbor_wizard``: the same as the ``harbor-wizard`` command."""

import sys

from harbor_wizard.cli import main

sys.exit(main())
