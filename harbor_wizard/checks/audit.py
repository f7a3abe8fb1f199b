"""After install: the files every Harbor node must share, compared by checksum.

Why: Harbor 1.4 HA breaks quietly when one node's copy drifts: another token signing
pair rejects its peers' tokens (`unauthorized: authentication required`, #1293), another
secretkey cannot decrypt the passwords the others stored (#13569), another harbor.cfg
points at other services. A hand edit or a half-finished reinstall is enough. The audit
reads each file's sha256 on every node (with sudo; contents never leave the node) and
names each node and file that differs from the others or from what harbor-wizard rendered.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from harbor_wizard.answers import Answers
from harbor_wizard.checks import CheckOptions, ssh
from harbor_wizard.checks.result import CheckResult, error, ok
from harbor_wizard.connection import SshTarget, targets
from harbor_wizard.profiles import ManagedFile, SharedSetting, Source, profile_for
from harbor_wizard.redact import redact
from harbor_wizard.remote import Output, gather, parse_sums, sha256, sha256s_read
from harbor_wizard.render import RenderedFile
from harbor_wizard.steps.harbor import setting_read

ALL_NODES = "all nodes"
Sums = Mapping[PurePosixPath, str | None]
"""sha256 (hex) of each audited file on one node; None when it is missing or unreadable."""


def _shared(answers: Answers) -> tuple[ManagedFile, ...]:
    tls = answers.tls
    files = profile_for(answers.harbor.version).files_for(
        "node", answers.load_balancer.mode, tls=tls is not None, tls_ca=bool(tls and tls.ca)
    )
    return tuple(f for f in files if f.shared)


def audited_paths(answers: Answers) -> list[PurePosixPath]:
    """The files the profile says every node shares, each followed by the copy the
    installer makes of it, for these answers."""
    paths = []
    for entry in _shared(answers):
        paths.append(entry.path)
        if entry.copied_to is not None:
            paths.append(entry.copied_to)
    return paths


def expected_sums(
    files: Iterable[RenderedFile], paths: Sequence[PurePosixPath]
) -> dict[PurePosixPath, str | None]:
    """What each audited file should hash to, from the rendered files of one node.

    The installer's copies (secretkey, certificates) hash like their originals.
    """
    by_path: dict[PurePosixPath, str] = {}
    for rendered in files:
        digest = hashlib.sha256(rendered.content.encode()).hexdigest()
        by_path.setdefault(rendered.path, digest)
        copy = rendered.entry.copied_to if rendered.entry else None
        if copy is not None:
            by_path.setdefault(copy, digest)
    return {path: by_path[path] for path in paths if path in by_path}


def _short(digest: str) -> str:
    return digest[:12]


def _majority(digests: Iterable[str]) -> str | None:
    """The digest more nodes hold than any other; None on a tie."""
    ranked = Counter(digests).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def compare(
    sums: Mapping[str, Sums], paths: Sequence[PurePosixPath], expected: Sums | None = None
) -> list[CheckResult]:
    """One error per node and file that is missing or differs; one ok per identical file.

    The reference is the rendered file when known, otherwise the version most nodes hold.
    """
    results: list[CheckResult] = []
    for path in paths:
        values = {node: node_sums.get(path) for node, node_sums in sums.items()}
        present = {node: digest for node, digest in values.items() if digest is not None}
        if not present:
            results.append(
                error(
                    "audit",
                    ALL_NODES,
                    f"{path} is missing on every node ({', '.join(values)}): is Harbor "
                    "installed with harbor-wizard?",
                )
            )
            continue
        results += [
            error(
                "audit",
                node,
                f"{node}: {path} is missing (present on {', '.join(present)}): {PUT_BACK}",
            )
            for node, digest in values.items()
            if digest is None
        ]
        want = (expected or {}).get(path)
        results += _differences(path, present, want)
        if (
            len(present) == len(values)
            and len(set(present.values())) == 1
            and (want is None or want in present.values())
        ):
            digest = next(iter(present.values()))
            results.append(
                ok(
                    "audit",
                    ALL_NODES,
                    f"{path}: identical on {len(present)} node(s) (sha256 {_short(digest)})",
                )
            )
    return results


PUT_BACK = (
    "run the install again with the same answers file: it writes the deployment's version "
    "back (and runs install.sh again where its inputs changed); if the host's version is "
    "the one you want, change the answers first"
)
"""What to do about a file that drifted: the rendered file is the deployment's truth."""


def _differences(
    path: PurePosixPath, present: Mapping[str, str], want: str | None
) -> list[CheckResult]:
    reference = want if want is not None else _majority(present.values())
    if reference is None:
        versions = "; ".join(f"{node} {_short(digest)}" for node, digest in present.items())
        return [
            error(
                "audit",
                node,
                f"{node}: {path} differs between nodes and no version is held by a "
                f"majority (sha256: {versions}): {PUT_BACK}",
            )
            for node in present
        ]
    holders = [node for node, digest in present.items() if digest == reference]
    results = []
    for node, digest in present.items():
        if digest == reference:
            continue
        if want is not None:
            message = (
                f"{node}: {path} differs from the file harbor-wizard rendered "
                f"(sha256 {_short(digest)}, expected {_short(want)})"
            )
            if holders:
                verb = "holds" if len(holders) == 1 else "hold"
                message += f"; {', '.join(holders)} {verb} the expected file"
        else:
            message = (
                f"{node}: {path} differs from {', '.join(holders)} "
                f"(sha256 {_short(digest)}, the others {_short(reference)})"
            )
        message += f": {PUT_BACK}"
        results.append(error("audit", node, message))
    return results


def setting_label(setting: SharedSetting) -> PurePosixPath:
    """How a shared line is named among the audited files: its file, then its key."""
    return PurePosixPath(f"{setting.file} {setting.key}")


def expected_settings(
    settings: Sequence[SharedSetting], values: Mapping[Source, str | None]
) -> dict[PurePosixPath, str]:
    """What each shared line's value should hash to (`steps.harbor.setting_read`)."""
    return {
        setting_label(setting): sha256(value.encode())
        for setting in settings
        if (value := values.get(setting.source)) is not None
    }


def _read(
    target: SshTarget,
    paths: Sequence[PurePosixPath],
    settings: Sequence[SharedSetting],
    options: CheckOptions,
) -> tuple[list[CheckResult], Sums | None]:
    """(errors, checksums): over SSH, as root, printing digests only (of the files, and of
    the shared lines' values)."""
    results, connection = ssh.open_host(target, options.accepted_fingerprints, options.timeout)
    if connection is None:
        return results, None
    try:
        files, lines = sha256s_read(paths), [setting_read(setting) for setting in settings]
        answers = gather(connection, [files, *lines], timeout=max(options.timeout, 10.0))
        out = answers[files]
        sums = parse_sums(out.stdout, paths)
        for setting, line in zip(settings, lines, strict=True):
            digest = answers[line].stdout.strip()
            sums[setting_label(setting)] = digest if answers[line].ok and digest else None
    except Exception as exc:  # the contract: no exception escapes a check
        out, sums = Output(255, "", f"{type(exc).__name__}: {exc}"), {}
    finally:
        connection.close()
    if not out.ok:
        message = f"{target.name}: cannot read the HA files as root: {out.stderr.strip()}"
        return [error("audit.read", target.name, redact(message))], None
    return [], sums


def audit(
    answers: Answers,
    base_dir: Path,
    options: CheckOptions | None = None,
    rendered: Sequence[RenderedFile] = (),
    shared_values: Mapping[Source, str | None] | None = None,
) -> list[CheckResult]:
    """Every Harbor node's shared files (and the shared lines of the files its installer
    makes, 2.x's CSRF_KEY) compared; `rendered` and `shared_values` add the expected."""
    options = options or CheckOptions()
    paths = audited_paths(answers)
    settings = profile_for(answers.harbor.version).shared_settings
    names = [node.name for node in answers.harbor_nodes]
    nodes = [target for target in targets(answers, base_dir) if target.name in names]
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        reads = list(pool.map(lambda target: _read(target, paths, settings, options), nodes))
    results: list[CheckResult] = []
    sums: dict[str, Sums] = {}
    for target, (read_results, node_sums) in zip(nodes, reads, strict=True):
        results += read_results
        if node_sums is not None:
            sums[target.name] = node_sums
    if sums:
        first = names[0]
        expected = expected_sums((f for f in rendered if f.host == first), paths)
        if shared_values is not None:
            expected |= expected_settings(settings, shared_values)
        labels = [*paths, *(setting_label(setting) for setting in settings)]
        results += compare(sums, labels, expected or None)
    return results
