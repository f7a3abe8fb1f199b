#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root, with no standard input:
# installs the Debian packages the lab needs, the package itself (with its test tools)
# into .venv, then runs ruff, mypy and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  python3 python3-venv openssh-server openssh-client keepalived haproxy \
  mariadb-server mariadb-client postgresql redis-server iptables iproute2 \
  tmux curl procps psmisc dbus gnome-keyring sudo openssl socat ca-certificates \
  python3-yaml >/dev/null

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest -n 2 "$@"
