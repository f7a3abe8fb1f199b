"""Constrained value types of the answers model.

Why: every value in the answers file ends up in a config file line (harbor.cfg is read by
Python 2's RawConfigParser, keepalived and HAProxy have their own line syntax), in a shell
word or in SQL. Each type here refuses, at load time, what could break out of its place,
and says what would be right.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

SECRET_MARKER = "<secret>"
"""What a secret field holds in the answers file: a reference, never the value."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
_INTERFACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,79}$")


def _fail(kind: str, message: str, **ctx: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message, ctx or None)


def single_line(value: str) -> str:
    """Refuse what RawConfigParser (harbor.cfg) or a config line would misread.

    A newline ends the value (a following indented line continues it), surrounding blanks
    are stripped, and `` ;`` starts an inline comment in Python 2's RawConfigParser.
    """
    if _CONTROL.search(value):
        raise _fail(
            "control_character",
            "must be a single line without control characters (newline, tab, ...)",
        )
    if value != value.strip():
        raise _fail("surrounding_space", "must not start or end with a space")
    if " ;" in value or "\t;" in value:
        raise _fail(
            "inline_comment",
            "must not contain ' ;': harbor.cfg's parser cuts the value there",
        )
    return value


def identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise _fail(
            "identifier",
            "'{value}' is not a safe name: use letters, digits, '-' and '_' "
            "(1-63 characters, starting and ending with a letter or digit)",
            value=value,
        )
    return value


def interface(value: str) -> str:
    if not _INTERFACE.match(value):
        raise _fail(
            "interface",
            "'{value}' is not a network interface name: 1-15 characters of letters, "
            "digits, '.', '-', '_' (e.g. eth0, ens160)",
            value=value,
        )
    if value == "lo":
        raise _fail("interface", "VRRP cannot run on the loopback interface 'lo'")
    return value


def dns_name(value: str) -> str:
    """A DNS name (RFC 1123) or an IPv4 address."""
    single_line(value)
    try:
        ipaddress.IPv4Address(value)
        return value
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if len(value) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _fail(
            "hostname",
            "'{value}' is neither an IPv4 address nor a DNS name "
            "(letters, digits and '-' in dot-separated labels, no port)",
            value=value,
        )
    if labels[-1].isdigit():
        raise _fail("hostname", "'{value}' looks like an incomplete IP address", value=value)
    return value


def user_name(value: str) -> str:
    if not _USER.match(value):
        raise _fail(
            "user_name",
            "'{value}' is not a safe user name: letters, digits, '_', '.', '-', "
            "starting with a letter or '_'",
            value=value,
        )
    return value


def routable_ipv4(value: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
    if value.is_loopback or value.is_multicast or value.is_unspecified or value.is_link_local:
        raise _fail(
            "address",
            "{value} cannot be a host's address (loopback, multicast, link-local or unspecified)",
            value=str(value),
        )
    return value


def local_path(value: str) -> str:
    single_line(value)
    if not value:
        raise _fail("path", "must not be empty")
    return value


_INSTALLER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


def installer_file(value: str) -> str:
    """The installer's file name becomes a path on every node: only a safe set of
    characters, whatever the quoting downstream (a name is never code, nor a surprise)."""
    local_path(value)
    name = value.rstrip("/").rsplit("/", 1)[-1]
    if not _INSTALLER_NAME.match(name):
        raise _fail(
            "installer_name",
            "the installer's file name may only hold letters, digits and '.', '-', '_', '+' "
            "(it becomes a path on every node): rename the file, e.g. to "
            "harbor-offline-installer-v1.4.0.tgz",
        )
    return value


def secret_ref(value: str) -> str:
    if value != SECRET_MARKER:
        raise _fail(
            "secret_in_file",
            "secret values never go into the answers file: write '<secret>' here and give "
            "the value with --secrets FILE, an environment variable or the keyring",
        )
    return value


Name = Annotated[
    str,
    AfterValidator(identifier),
    Field(description="A safe name: letters, digits, '-', '_' (used in paths and configs)."),
]
Interface = Annotated[str, AfterValidator(interface)]
DnsName = Annotated[str, AfterValidator(dns_name)]
UserName = Annotated[str, AfterValidator(user_name)]
Address = Annotated[ipaddress.IPv4Address, AfterValidator(routable_ipv4)]
LocalPath = Annotated[
    str,
    AfterValidator(local_path),
    Field(description="A path on the operator's machine; relative to the answers file."),
]
InstallerPath = Annotated[
    str,
    AfterValidator(installer_file),
    Field(
        description="The offline installer .tgz on the operator's machine; relative to the "
        "answers file. Its file name: letters, digits, '.', '-', '_', '+'."
    ),
]
SafeText = Annotated[str, AfterValidator(single_line)]
Port = Annotated[int, Field(ge=1, le=65535)]
SecretRef = Annotated[
    str,
    AfterValidator(secret_ref),
    Field(
        description="Always the literal '<secret>': the value comes from --secrets FILE, "
        "HARBOR_WIZARD_<FIELD_PATH>, the keyring or a prompt.",
        json_schema_extra={"const": SECRET_MARKER, "writeOnly": True},
    ),
]
