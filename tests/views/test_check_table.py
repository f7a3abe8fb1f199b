"""The check table prints what the probes said, as text: a host's words are never markup."""

from __future__ import annotations

import io

from rich.console import Console

from harbor_wizard.checks.result import error, ok, warning
from harbor_wizard.views.checks import print_results


def test_the_host_is_said_once_and_messages_are_not_markup() -> None:
    results = [
        ok("lb.curl", "lb01", "lb01: curl installed (curl 7.88.1)"),
        error("mariadb.login", "database", "MariaDB said: [mysqld] [/bold] access denied"),
        warning("redis.ha", "redis", "Redis at 10.0.0.1:6379 has no replica"),
    ]
    out = io.StringIO()
    failed = print_results(results, Console(file=out, width=200))
    text = out.getvalue()
    assert failed
    assert "lb01: curl" not in text
    assert "curl installed (curl 7.88.1)" in text
    assert "[mysqld] [/bold] access denied" in text
    assert "3 checks: 1 error(s), 1 warning(s)" in text


def test_line_names_the_target_once() -> None:
    assert ok("ssh.sudo", "lb01", "lb01: logged in as root").line == "lb01: logged in as root"
    assert ok("vip", "vip", "the VIP is free").line == "vip: the VIP is free"
