"""The command line: the TUI by default, or one of the unattended commands.

Exit codes (documented in README): 0 success; 2 invalid input (answers, secrets, files:
nothing on any host was touched); 1 a failure after the input was valid.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harbor_wizard import __version__
from harbor_wizard.answers import InvalidInput, answers_schema
from harbor_wizard.redact import redact

if TYPE_CHECKING:
    from harbor_wizard.inputs import Inputs

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2


def say(message: str) -> None:
    print(redact(message))


def warn(message: str) -> None:
    print(redact(message), file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harbor-wizard",
        description="Install Harbor in high availability: guided (TUI), or unattended "
        "from an answers file.",
        epilog="Exit codes: 0 success, 1 failure, 2 invalid input (nothing was changed).",
    )
    parser.add_argument("--version", action="version", version=f"harbor-wizard {__version__}")
    parser.add_argument(
        "--answers", type=Path, metavar="FILE", help="install unattended from this answers file"
    )
    parser.add_argument(
        "--secrets",
        type=Path,
        metavar="FILE",
        help="secrets file (YAML, field path: value, mode 0600)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would change and change nothing"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    render = commands.add_parser(
        "render", help="write every host's config files into a folder for review"
    )
    render.add_argument("--answers", type=Path, metavar="FILE", required=True)
    render.add_argument("--secrets", type=Path, metavar="FILE")
    render.add_argument("--out", type=Path, metavar="DIR", required=True)
    commands.add_parser("schema", help="print the JSON Schema of the answers file")
    check = commands.add_parser(
        "check", help="prove every answer against the real hosts and services; change nothing"
    )
    check.add_argument("--answers", type=Path, metavar="FILE", required=True)
    check.add_argument("--secrets", type=Path, metavar="FILE")
    _check_options(check)
    _check_options(parser)
    return parser


def _check_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="time limit of each connection and probe (default 5)",
    )
    parser.add_argument(
        "--accept-host-key",
        action="append",
        default=[],
        metavar="FINGERPRINT",
        help="trust this SSH host key (SHA256:...) of a host not yet in known_hosts",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "schema":
            say(json.dumps(answers_schema(), indent=2))
            return EXIT_OK
        if args.command == "render":
            return _render(args.answers, args.secrets, args.out)
        if args.command == "check":
            return _check(args)
        if args.answers is not None:
            return _unattended(args)
        return _interactive()
    except InvalidInput as error:
        warn(f"harbor-wizard: invalid input ({len(error.problems)} problem(s)):")
        for problem in error.problems:
            warn(f"  {problem}")
        return EXIT_INVALID
    except KeyboardInterrupt:
        warn("harbor-wizard: interrupted")
        return 130


def _render(answers: Path, secrets: Path | None, out: Path) -> int:
    from harbor_wizard.inputs import load_inputs
    from harbor_wizard.render import write_tree

    inputs = load_inputs(answers, secrets, prompt=_terminal_prompt(), notify=warn)
    written = write_tree(inputs.render(), out)
    say(f"Wrote {len(written)} files under {out}/<host>/ (files holding secrets are mode 0600).")
    return EXIT_OK


def _terminal_prompt() -> Callable[[str], str] | None:
    """Secrets are asked for only when a person is at the keyboard."""
    from harbor_wizard.secrets import terminal_prompt

    return terminal_prompt if sys.stdin.isatty() else None


def _run_checks(args: argparse.Namespace) -> tuple[Inputs, bool]:
    """Load the inputs, run every live check, print the table; (inputs, any error)."""
    from harbor_wizard.checks import CheckOptions, run_all
    from harbor_wizard.inputs import load_inputs
    from harbor_wizard.views.checks import print_results

    inputs = load_inputs(args.answers, args.secrets, prompt=_terminal_prompt(), notify=warn)
    options = CheckOptions(
        timeout=args.timeout, accepted_fingerprints=frozenset(args.accept_host_key)
    )
    results = run_all(inputs.answers, inputs.secrets, inputs.document.base_dir, options)
    return inputs, print_results(results)


def _check(args: argparse.Namespace) -> int:
    _, failed = _run_checks(args)
    return EXIT_FAILED if failed else EXIT_OK


def _unattended(args: argparse.Namespace) -> int:
    inputs, failed = _run_checks(args)
    if failed:
        warn("harbor-wizard: checks failed; nothing was changed. Fix the errors above and re-run.")
        return EXIT_FAILED
    dry_run = args.dry_run
    files = inputs.render()
    say(f"Answers, secrets and files of deployment '{inputs.answers.name}' are valid.")
    for host, _ in inputs.answers.hosts():
        say(f"{host}:")
        for rendered in files:
            if rendered.host == host:
                say(f"  {rendered.path}  ({rendered.mode:04o} {rendered.owner}:{rendered.group})")
    if dry_run:
        return EXIT_OK
    warn(
        "harbor-wizard: the install engine is not part of this release yet; nothing was "
        "changed. Use `harbor-wizard render` to review the files."
    )
    return EXIT_FAILED


def _interactive() -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        warn(
            "harbor-wizard: the guided mode needs a terminal. Without one, run "
            "`harbor-wizard --answers FILE [--secrets FILE]`."
        )
        return EXIT_INVALID
    warn(
        "harbor-wizard: the guided mode (TUI) is not part of this release yet. Run "
        "`harbor-wizard --answers FILE [--secrets FILE]`; see README for the answers file."
    )
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
