"""The command line: the TUI by default, or one of the unattended commands.

Exit codes (documented in README): 0 success; 2 invalid input (answers, secrets, files:
nothing on any host was touched); 1 a failure after the input was valid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from harbor_wizard import __version__
from harbor_wizard.problems import InvalidInput, StateFileError
from harbor_wizard.redact import redact

if TYPE_CHECKING:
    from harbor_wizard.deploy import Install
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
    parser.add_argument(
        "--from-scratch",
        action="store_true",
        help="ignore the journal of earlier runs (every step looks at its host again) and "
        "run install.sh on every node again",
    )
    parser.add_argument(
        "--break-lock",
        action="store_true",
        help="remove the lock of an earlier run on the first load balancer (or node) when "
        "you know that run is gone; a run alive on this machine still refuses",
    )
    parser.add_argument(
        "--lb-wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="external load balancer: how long to wait for the VIP to answer (default 120)",
    )
    parser.add_argument(
        "--batch",
        type=_count,
        default=1,
        metavar="N",
        help="when install.sh must run again on nodes that serve: N of them at a time, each "
        "drained on the load balancers first (default 1; at most all nodes but one)",
    )
    parser.add_argument(
        "--parallel",
        type=_count,
        metavar="N",
        help="hosts worked on at the same time, each over one SSH connection (default 32)",
    )
    parser.add_argument(
        "--drain-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long a drained node's open connections get to end before install.sh "
        "runs on it (default 60)",
    )
    parser.add_argument(
        "--edit",
        type=Path,
        metavar="FILE",
        help="open this answers file in the guided mode (its secrets: --secrets FILE, else "
        "found where --answers finds them)",
    )
    parser.add_argument(
        "--ascii",
        action="store_true",
        help="guided mode drawn with ASCII only (automatic when the locale is not UTF-8)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    render = commands.add_parser(
        "render", help="write every host's config files into a folder for review"
    )
    _deployment_files(render)
    render.add_argument("--out", type=Path, metavar="DIR", required=True)
    commands.add_parser("schema", help="print the JSON Schema of the answers file")
    check = commands.add_parser(
        "check", help="prove every answer against the real hosts and services; change nothing"
    )
    _deployment_files(check)
    _check_options(parser)
    _strict_option(parser)
    _check_options(check, after_command=True)
    _strict_option(check, after_command=True)
    audit = commands.add_parser(
        "audit", help="after install: compare the HA files and harbor.cfg across the nodes"
    )
    _deployment_files(audit)
    _check_options(audit, after_command=True)
    status = commands.add_parser(
        "status",
        help="after install: VIP holder, LBs, nodes, databases, certificate, last run "
        "(exit 0 healthy, 1 not)",
    )
    _deployment_files(status)
    status.add_argument("--json", action="store_true", help="print JSON (for monitoring)")
    _check_options(status, after_command=True)
    drill = commands.add_parser(
        "drill",
        help="after install: prove failover on the live deployment (each LB, each node) "
        "and put everything back",
    )
    _deployment_files(drill)
    drill.add_argument("--node", metavar="NAME", help="cut only this Harbor node")
    only = drill.add_mutually_exclusive_group()
    only.add_argument("--lbs-only", action="store_true", help="cut only the load balancers")
    only.add_argument("--nodes-only", action="store_true", help="cut only the Harbor nodes")
    drill.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a local address to send the test requests from (repeat: HAProxy keeps each "
        "client address on one node); default: this machine's own",
    )
    _check_options(drill, after_command=True)
    return parser


def _unset_unless(after_command: bool, default: object) -> object:
    """A subcommand's copy of an option has no default of its own: argparse would let it
    overwrite the value given before the subcommand (`--strict check` ignored)."""
    return argparse.SUPPRESS if after_command else default


def _strict_option(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    parser.add_argument(
        "--strict",
        action="store_true",
        default=_unset_unless(after_command, False),
        help="count warnings (e.g. a service that is not HA) as failures",
    )


def _check_options(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=_unset_unless(after_command, 5.0),
        metavar="SECONDS",
        help="time limit of each connection and probe (default 5)",
    )
    parser.add_argument(
        "--accept-host-key",
        action="append",
        default=_unset_unless(after_command, []),
        metavar="FINGERPRINT",
        help="trust this SSH host key (SHA256:...) of a host not yet in known_hosts",
    )


def _deployment_files(command: argparse.ArgumentParser) -> None:
    command.add_argument("--answers", type=Path, metavar="FILE", required=True)
    command.add_argument("--secrets", type=Path, metavar="FILE")


def _count(text: str) -> int:
    """A whole number of at least 1, or argparse's own message naming the option."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run() -> NoReturn:
    """The `harbor-wizard` command: `main`, then leave without tearing the interpreter
    down. Why: unloading the modules a run imports costs 0.2-0.4 s of CPU, a quarter of a
    re-run, and everything is saved and closed by then (journal, log, locks, terminal).
    `--help`, `--version` and usage errors leave through argparse's SystemExit as usual."""
    code = main()
    main_thread = threading.main_thread()
    if any(not t.daemon and t is not main_thread for t in threading.enumerate()):
        sys.exit(code)  # a thread still ending (a stopped run releasing its lock): wait for it
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a reader gone (`| head`): nothing to keep
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "schema":
            from harbor_wizard.answers import answers_schema

            say(json.dumps(answers_schema(), indent=2))
            return EXIT_OK
        if args.command == "render":
            return _render(args.answers, args.secrets, args.out)
        if args.command == "check":
            return _check(args)
        if args.command == "audit":
            return _audit(args)
        if args.command == "status":
            return _status(args)
        if args.command == "drill":
            return _drill(args)
        if args.answers is not None:
            return _unattended(args)
        return _interactive(args.edit, args.secrets, args.ascii)
    except InvalidInput as error:
        warn(f"harbor-wizard: invalid input ({len(error.problems)} problem(s)):")
        for problem in error.problems:
            warn(f"  {problem}")
        return EXIT_INVALID
    except StateFileError as error:
        warn(f"harbor-wizard: {error}")
        return EXIT_FAILED
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
    from harbor_wizard.inputs import load_inputs

    inputs = load_inputs(args.answers, args.secrets, prompt=_terminal_prompt(), notify=warn)
    from harbor_wizard.checks import CheckOptions, run_all  # after: bad input fails fast
    from harbor_wizard.views.checks import print_results

    options = CheckOptions(
        timeout=args.timeout,
        accepted_fingerprints=frozenset(args.accept_host_key),
        strict=args.strict,
    )
    results = run_all(inputs.answers, inputs.secrets, inputs.document.base_dir, options)
    return inputs, print_results(results, strict=options.strict)


def _check(args: argparse.Namespace) -> int:
    _, failed = _run_checks(args)
    return EXIT_FAILED if failed else EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    """Checksums of the HA files on every node, against each other and the rendered files."""
    from harbor_wizard.inputs import load_inputs

    inputs = load_inputs(args.answers, args.secrets, prompt=_terminal_prompt(), notify=warn)
    from harbor_wizard.checks import CheckOptions  # after: bad input fails fast
    from harbor_wizard.checks.audit import audit
    from harbor_wizard.render import source_values
    from harbor_wizard.views.checks import print_results

    options = CheckOptions(
        timeout=args.timeout, accepted_fingerprints=frozenset(args.accept_host_key)
    )
    shared = source_values(inputs.artefacts)
    results = audit(inputs.answers, inputs.document.base_dir, options, inputs.render(), shared)
    return EXIT_FAILED if print_results(results) else EXIT_OK


def _status(args: argparse.Namespace) -> int:
    """The deployment's state in one table (or JSON); 0 when everything is healthy."""
    from harbor_wizard.inputs import load_inputs

    inputs = load_inputs(args.answers, args.secrets, prompt=_terminal_prompt(), notify=warn)
    from harbor_wizard.health import Options, gather, to_json  # after: bad input fails fast

    options = Options(timeout=args.timeout, accepted_fingerprints=frozenset(args.accept_host_key))
    report = gather(inputs.answers, inputs.secrets, inputs.document.base_dir, options)
    if args.json:
        say(to_json(report))
    else:
        from harbor_wizard.views.status import print_report

        print_report(report)
    return EXIT_OK if report.healthy else EXIT_FAILED


def _drill(args: argparse.Namespace) -> int:
    """Refuse unless healthy; cut, measure, restore; 0 when every cut recovered and all is
    as before. Ctrl-C or SIGTERM restore what was stopped, then exit 130 / 143."""
    from harbor_wizard.inputs import load_inputs

    inputs = load_inputs(args.answers, args.secrets, prompt=_terminal_prompt(), notify=warn)
    from harbor_wizard.drill import Drill, Interrupted
    from harbor_wizard.health import Options
    from harbor_wizard.views.drill import print_rows

    names = [node.name for node in inputs.answers.harbor_nodes]
    if args.node is not None and args.node not in names:
        warn(f"harbor-wizard: --node {args.node}: no such Harbor node ({', '.join(names)})")
        return EXIT_INVALID
    options = Options(timeout=args.timeout, accepted_fingerprints=frozenset(args.accept_host_key))

    def progress(line: str) -> None:
        print(redact(line), flush=True)

    drill = Drill(
        inputs.answers,
        inputs.secrets,
        inputs.document.base_dir,
        options,
        node=args.node,
        lbs=not args.nodes_only and args.node is None,
        nodes=not args.lbs_only,
        sources=args.source or [None],
        say=progress,
    )
    signals: list[str] = []

    def handler(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if signals:
            warn("harbor-wizard: restoring what the drill stopped; it ends by itself")
            return
        signals.append(name)
        warn(f"harbor-wizard: {name}: restoring what the drill stopped, then stopping")
        raise Interrupted(name)

    report = drill.preflight()
    if not report.healthy:
        warn(
            "harbor-wizard: the drill runs only on a healthy deployment (it would prove "
            "nothing, and could cut the last working piece); `status` shows:"
        )
        for problem in report.problems():
            warn(f"  - {problem}")
        return EXIT_FAILED
    previous = signal.signal(signal.SIGINT, handler)  # from here, something may be stopped
    previous_term = signal.signal(signal.SIGTERM, handler)
    try:
        ok = drill.run(report)
    except Interrupted as stop:
        print_rows(drill.rows)
        warn(f"harbor-wizard: drill stopped by {stop.signal_name}; what it stopped runs again")
        return 130 if stop.signal_name == "SIGINT" else 143
    except Exception as exc:  # restored in drill.run; say why it stopped
        print_rows(drill.rows)
        warn(f"harbor-wizard: drill failed: {exc}")
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    print_rows(drill.rows)
    say(f"Log: {drill.log_path}")
    return EXIT_OK if ok else EXIT_FAILED


def _unattended(args: argparse.Namespace) -> int:
    """Validate, plan, check, install, verify: exit 0; 1 naming the failed host and step;
    130 after Ctrl-C and 143 after SIGTERM, once the running steps have ended."""
    from harbor_wizard.inputs import load_inputs

    inputs = load_inputs(args.answers, args.secrets, prompt=_terminal_prompt(), notify=warn)
    # Imported after the inputs are read: a bad file is refused before SSH and database
    # clients load (about 0.7 s).
    from rich.console import Console

    from harbor_wizard.checks import CheckOptions
    from harbor_wizard.deploy import Install
    from harbor_wizard.events import Tee
    from harbor_wizard.external import instructions as external_lb
    from harbor_wizard.views.unattended import LiveTree, PlainLines, Summary

    check_options = CheckOptions(
        timeout=args.timeout,
        accepted_fingerprints=frozenset(args.accept_host_key),
        strict=args.strict,
    )
    install = Install(
        inputs,
        check_options,
        dry_run=args.dry_run,
        from_scratch=args.from_scratch,
        lb_wait=args.lb_wait,
        break_lock=args.break_lock,
        batch=args.batch,
        drain_wait=args.drain_wait,
        parallel=args.parallel,
    )
    say(install.plan.describe())
    summary = Summary(dry_run=args.dry_run)
    console = Console()
    view = LiveTree(console) if sys.stdout.isatty() and not args.dry_run else PlainLines()
    stopped_by = _stop_on_signals(install)
    result = install.run(Tee(view, summary))
    summary.print(console)
    lb_settings = external_lb(inputs.answers)
    if lb_settings is not None:  # external mode: what the operator's LB must be set to
        say(lb_settings)
    for host in install.removed:
        say(
            f"{host} is no longer in the answers: the load balancers no longer send it "
            "traffic; the host itself was left as it is (stop Harbor there by hand)."
        )
    if args.dry_run and result.ok and summary.changed == 0:
        say("Nothing would change.")
    say(f"Log: {install.log_path}\nJournal: {install.journal.path}")
    if stopped_by:
        warn(
            f"harbor-wizard: stopped by {stopped_by[0]} after {install.last_completed()}. "
            + install.resume_hint()
        )
        return _stop_code(stopped_by)
    if not result.ok:
        warn(f"harbor-wizard: {result.message}. Fix it and run the same command again.")
        return EXIT_FAILED
    return EXIT_OK


def _stop_on_signals(install: Install) -> list[str]:
    """Ctrl-C or SIGTERM: start no new step, let running ones end, then stop cleanly.

    A second signal stops at once: the connections close, so the hosts end the commands
    they ran for us; if something still holds on (a database call), the process exits
    after deploy.ABORT_GRACE_SECONDS anyway. The journal is written after every step, and
    a host lock left by a gone process is taken over by the next run from this machine."""
    stopped_by: list[str] = []

    def handler(signum: int, frame: object) -> None:
        if not stopped_by:
            stopped_by.append(signal.Signals(signum).name)
            warn("harbor-wizard: stopping after the steps that are running (again to stop now)")
            install.cancel()
            return
        if len(stopped_by) > 1:
            return
        stopped_by.append(signal.Signals(signum).name)
        warn("harbor-wizard: stopping now")
        code = _stop_code(stopped_by)
        threading.Thread(target=_exit_unless_done, args=(install, code), daemon=True).start()
        install.abort()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stopped_by


def _stop_code(stopped_by: list[str]) -> int:
    return 130 if stopped_by[0] == "SIGINT" else 143


def _exit_unless_done(install: Install, code: int) -> None:
    from harbor_wizard.deploy import ABORT_GRACE_SECONDS

    time.sleep(ABORT_GRACE_SECONDS)
    if sys.stdout.isatty():
        sys.stdout.write("\x1b[?25h\n")  # the live tree hid the cursor
        sys.stdout.flush()
    warn(
        f"harbor-wizard: stopped at once after {install.last_completed()}. " + install.resume_hint()
    )
    os._exit(code)


def _interactive(
    edit: Path | None = None, secrets: Path | None = None, ascii_only: bool = False
) -> int:
    if secrets is not None and edit is None:
        warn(
            "harbor-wizard: --secrets names the secrets of an answers file: give that file "
            "with --edit FILE (guided) or --answers FILE (unattended)."
        )
        return EXIT_INVALID
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        warn(
            "harbor-wizard: the guided mode needs a terminal. Without one, run "
            "`harbor-wizard --answers FILE [--secrets FILE]`."
        )
        return EXIT_INVALID
    from harbor_wizard.views.launch import run_tui

    return run_tui(edit, secrets=secrets, ascii_only=ascii_only)


if __name__ == "__main__":
    run()
