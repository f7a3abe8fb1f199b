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


_YAML_INDICATORS = "-?:,[]{}#&*!|>'\"%@`"
_RETYPED = re.compile(
    r"""^(?:
        ~ | null | y | yes | n | no | true | false | on | off   # null, booleans (yaml.v2: y, n)
      | << | =                                                  # merge and value keys
      | [-+]? (?: 0b[01_]+ | 0o?[0-7_]+ | 0x[0-9a-f_]+
                | [0-9][0-9_]* (?: :[0-5]?[0-9] )* )            # integers, base 60 too
      | [-+]? [0-9_]* \. [0-9_]* (?: e[-+]?[0-9]+ )?            # floats
      | [-+]? [0-9][0-9_]* (?: :[0-5]?[0-9] )* (?: \.[0-9_]* )? e[-+]?[0-9]+
      | [-+]? [0-9][0-9_]* (?: :[0-5]?[0-9] )+ \. [0-9_]*
      | [-+]? \.inf | \.nan
      | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2} .*                       # timestamps
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_CANNOT_CARRY = "Harbor 1.4 cannot carry it"


def storage_value_problem(value: str, *, secret: bool) -> str | None:
    """Why a storage setting would not reach the registry unchanged, or None.

    Harbor 1.4's prepare (Python 2) reads the one harbor.cfg line
    ``registry_storage_provider_config = key: value, key: value``, splits it at every
    ``,``, strips each item and writes it unquoted as ``    key: value`` into the
    registry's config.yml, which the registry parses as YAML 1.1 (Go yaml.v2) into untyped
    values. So a value must be a plain YAML scalar that reads back as the same text:
    no YAML indicator first (``-``, ``?``, ``:`` only before a space or alone), no
    ``: ``/`` #``, no ``,``, ASCII only (prepare decodes
    harbor.cfg in the node's locale, ASCII over a plain SSH session), and no text YAML
    would read as null, a boolean, a number or a date. For a secret the message never
    names the character, only the kind.
    """
    what = "change the password or key" if secret else "change the value"
    if not value:
        return f"is empty: the registry would read null; {what}"
    if not value.isascii():
        return (
            "holds a non-ASCII character: Harbor 1.4's prepare (Python 2) reads harbor.cfg "
            f"in the node's locale and fails on it under a plain SSH session; {what}"
        )
    if "," in value:
        return (
            "cannot contain ',': Harbor 1.4's prepare splits the storage settings at every "
            f"comma; {what}"
        )
    # '-', '?' and ':' start a plain scalar when a non-space follows (YAML block context)
    if value[0] in _YAML_INDICATORS and (value[0] not in "-?:" or value[1:2] in ("", " ")):
        first = "a character" if secret else f"'{value[0]}'"
        return (
            f"starts with {first} that YAML reserves here (one of {_YAML_INDICATORS}): Harbor "
            "1.4's prepare writes storage settings unquoted into the registry's config.yml, "
            f"where it would be read as YAML syntax (e.g. '*' as an alias); {what}, "
            f"{_CANNOT_CARRY}"
        )
    if ": " in value or value.endswith(":"):
        return (
            "cannot contain ': ' or end with ':': unquoted in the registry's config.yml "
            f"(Harbor 1.4's prepare writes it so) YAML would read a mapping; {what}, "
            f"{_CANNOT_CARRY}"
        )
    if value != value.strip(" ") or re.search(r"[\t\r\n]", value):
        return (
            "cannot start or end with a space, nor hold a tab or line break: Harbor 1.4's "
            f"prepare strips or splits it; {what}"
        )
    if re.search(r"\s#", value):
        return (
            "cannot contain ' #': unquoted in the registry's config.yml (Harbor 1.4's "
            f"prepare writes it so) YAML would cut the value there as a comment; {what}, "
            f"{_CANNOT_CARRY}"
        )
    if _RETYPED.match(value):
        hint = "" if secret else " (if a number or boolean is meant, write it without quotes)"
        return (
            "would not stay text: Harbor 1.4's prepare writes it unquoted into the registry's "
            "config.yml, where YAML 1.1 reads it as a number, boolean, null or date; "
            f"{what}{hint}"
        )
    return None


def identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise _fail(
            "identifier",
            "'{value}' is not a safe name: use letters, digits, '-' and '_' "
            "(1-63 characters, starting and ending with a letter or digit), e.g. harbor01",
            value=value,
        )
    return value


_HARBOR_VERSION = re.compile(r"^(1\.4|2\.15)\.\d+$")
SUPPORTED_RELEASES = "1.4.x (the HA guide's release) or 2.15.x"


def harbor_version(value: str) -> str:
    """The release of the offline installer: one of the release lines with a profile."""
    if not _HARBOR_VERSION.match(value):
        raise _fail(
            "harbor_version",
            "'{value}' is not a Harbor release this tool installs: write the version of the "
            "offline installer, " + SUPPORTED_RELEASES + ", e.g. 1.4.0 or 2.15.2",
            value=value,
        )
    return value


_ENDPOINT = re.compile(r"^[A-Za-z0-9.-]+:(\d{1,5})$")


def endpoint(value: str) -> str:
    """host:port, as Harbor 1.4's registry reads redis_url (no scheme, no password)."""
    match = _ENDPOINT.match(value)
    if not match or not 1 <= int(match.group(1)) <= 65535:
        raise _fail(
            "endpoint",
            "'{value}' is not host:port: the Redis server's name or IPv4 address, a colon "
            "and its port (1 to 65535), e.g. redis.example.com:6379",
            value=value,
        )
    return value


_STORAGE_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def storage_key(value: str) -> str:
    if not _STORAGE_KEY.match(value):
        raise _fail(
            "storage_key",
            "'{value}' is not a storage setting name: lower-case letters, digits and '_', "
            "starting with a letter, as in the Docker registry storage driver docs, e.g. "
            "rootdirectory",
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
        raise _fail(
            "interface",
            "VRRP cannot run on the loopback interface 'lo': use the interface of the "
            "network the VIP is on, e.g. ens160",
        )
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
            "'{value}' is neither an IPv4 address nor a DNS name (letters, digits and '-' "
            "in dot-separated labels, no port), e.g. db.example.com or 192.0.2.30",
            value=value,
        )
    if labels[-1].isdigit():
        raise _fail(
            "hostname",
            "'{value}' looks like an incomplete IP address: write all four numbers, "
            "e.g. 192.0.2.30",
            value=value,
        )
    return value


def user_name(value: str) -> str:
    if not _USER.match(value):
        raise _fail(
            "user_name",
            "'{value}' is not a safe user name: letters, digits, '_', '.', '-', "
            "starting with a letter or '_', e.g. root",
            value=value,
        )
    return value


def database_name(value: str) -> str:
    if not _USER.match(value):
        raise _fail(
            "database_name",
            "'{value}' is not a safe database name: letters, digits, '_', '.', '-', "
            "starting with a letter or '_', e.g. registry",
            value=value,
        )
    return value


_YAML_WORDS = frozenset({"null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"})
"""Words YAML 1.1 (Harbor's Go components) reads as null or a boolean, not as text."""


def master_set(value: str) -> str:
    """A Sentinel master set's name: prepare writes it unquoted into YAML files."""
    if not _USER.match(value) or value.lower() in _YAML_WORDS:
        raise _fail(
            "master_set",
            "'{value}' cannot be a master set's name here: letters, digits, '_', '.', '-', "
            "starting with a letter or '_', and not a word YAML reads as true, false or "
            "null (Harbor writes it unquoted), e.g. mymaster",
            value=value,
        )
    return value


def routable_ipv4(value: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
    if value.is_loopback or value.is_multicast or value.is_unspecified or value.is_link_local:
        raise _fail(
            "address",
            "{value} is a loopback, multicast, link-local or unspecified address: other "
            "hosts cannot reach it there; use an address on the hosts' network, "
            "e.g. 192.0.2.21",
            value=str(value),
        )
    return value


def local_path(value: str) -> str:
    single_line(value)
    if not value:
        # Said as a missing value is, with the field's own example (answers.messages).
        raise _fail("empty", "is empty")
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
DatabaseName = Annotated[str, AfterValidator(database_name)]
MasterSet = Annotated[str, AfterValidator(master_set)]
Address = Annotated[ipaddress.IPv4Address, AfterValidator(routable_ipv4)]
HarborVersion = Annotated[
    str,
    AfterValidator(harbor_version),
    Field(json_schema_extra={"pattern": _HARBOR_VERSION.pattern}),
]
Endpoint = Annotated[
    str, AfterValidator(endpoint), Field(json_schema_extra={"pattern": _ENDPOINT.pattern})
]
StorageKey = Annotated[
    str, AfterValidator(storage_key), Field(json_schema_extra={"pattern": _STORAGE_KEY.pattern})
]
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
