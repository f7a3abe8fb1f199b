"""The harbor-wizard test lab: real SSH hosts, databases and VRRP on one machine.

Network namespaces joined by a bridge, a private root per host, a real sshd per host,
MariaDB / PostgreSQL / Redis started by hand, and the three test doubles of
shared/design/lab.md (systemctl, docker/docker-compose, the Harbor installer).
Manual use: `python -m tests.lab up|down`.
"""

from .installer import build_installer
from .lab import Lab, LabConfig, find_python2, preflight
from .util import LabError

__all__ = ["Lab", "LabConfig", "LabError", "build_installer", "find_python2", "preflight"]
