"""`python -m tests.lab up [--harbor-nodes N]` / `python -m tests.lab down [--prefix P]`.

`up` builds a lab that stays running after the command ends and writes answers.yaml
and secrets.yaml (0600) describing it into its state directory. `down` removes labs
built by `up` and labs left by crashed runs; a lab whose owner process still runs (a
test session) is left alone unless named with --prefix.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import state
from .lab import MAX_HARBOR_NODES, Lab, LabConfig
from .util import LabError


def up(args: argparse.Namespace) -> int:
    removed = state.sweep(include_persistent=False)
    if removed:
        print(f"removed stale labs: {', '.join(removed)}")
    lab = Lab.start(
        LabConfig(
            harbor_nodes=args.harbor_nodes,
            persistent=True,
            prefix=args.prefix or os.environ.get("HW_LAB_PREFIX"),
        )
    )
    answers, secrets = lab.write_answers()
    folder_2 = lab.dir / "harbor-2.15"
    folder_2.mkdir(exist_ok=True)
    answers_2, secrets_2 = lab.write_answers(folder_2, release="2.15")
    print(
        f"lab {lab.prefix} is up on {lab.subnet.network} (bridge {lab.bridge}, you are "
        f"{lab.operator_ip}); VIP {lab.vip}"
    )
    print(f"state dir:    {lab.dir}")
    print(f"answers:      {answers}")
    print(f"secrets:      {secrets}")
    print(f"installer:    {lab.installer}")
    print(f"Harbor 2.15:  {answers_2}, {secrets_2}, {lab.installer_2}")
    print(f"MariaDB:      {lab.mariadb.ip}:{lab.mariadb.port} user root")
    print(
        f"PostgreSQL:   {lab.postgres.ip}:{lab.postgres.port} user postgres (password: the "
        f"1.4 secrets' clair_database.password), and user harbor for Harbor 2.15 (password: "
        "the 2.15 secrets' database.password)"
    )
    print(
        f"Redis:        {lab.redis.endpoint} (no password), "
        f"{lab.redis_auth.endpoint} (password in {lab.dir}/redis-password)"
    )
    (lab.dir / "redis-password").write_text(lab.redis_auth.password or "")
    (lab.dir / "redis-password").chmod(0o600)
    print("hosts:")
    for host in lab.hosts.values():
        ssh = host.ssh_command(lab.key_path, lab.known_hosts_path)
        print(f"  {host.name:<9} {host.ip:<15} {ssh}")
    print(f"remove it with: python -m tests.lab down --prefix {lab.prefix}")
    return 0


def down(args: argparse.Namespace) -> int:
    if args.prefix:
        state.destroy(args.prefix)
        removed = [args.prefix]
    else:
        removed = state.sweep(include_persistent=True)
    print(f"removed: {', '.join(removed)}" if removed else "no lab to remove")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.lab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="build a lab and leave it running")
    p_up.add_argument(
        "--harbor-nodes",
        type=int,
        default=2,
        choices=range(1, MAX_HARBOR_NODES + 1),
        metavar="N",
        help=f"number of Harbor nodes, 1..{MAX_HARBOR_NODES} (default 2)",
    )
    p_up.add_argument("--prefix", help="name prefix, hw + 4 hex digits (default: random)")
    p_down = sub.add_parser("down", help="remove labs (all of `up`'s and stale ones)")
    p_down.add_argument("--prefix", help="remove only this lab")
    args = parser.parse_args(argv)
    try:
        return up(args) if args.command == "up" else down(args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
