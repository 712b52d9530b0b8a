"""Host-name syntax and certificate name matching, shared by `validate` and `dns`.

One module so that the Domain field of an upload, the hostname of an assignment and the
names in a certificate are compared by exactly the same rules: case-insensitive, the
trailing dot ignored, internationalised names as A-labels, and one-label wildcards as
browsers match them (RFC 6125).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_MAX_NAME = 253


class InvalidHostname(ValueError):
    """A name that is not a usable DNS host name; the message says why, for a person."""


# IDNA 2003 (Python's codec) maps these to other letters (ß -> ss); IDNA 2008, which
# registries, CAs and browsers use today, keeps them: straße -> xn--strae-oqa.
_DEVIATIONS = frozenset("\u00df\u03c2\u200c\u200d")


def _to_alabel(label: str) -> str:
    if label.isascii():
        alabel = label.lower()
        if alabel.startswith("xn--"):
            _check_alabel(label, alabel)
        return alabel
    try:
        mapped = label.encode("idna").decode("ascii").lower()  # IDNA 2003: checks and maps
    except UnicodeError as exc:
        raise InvalidHostname(f"label {label!r} cannot be written as an A-label") from exc
    ulabel = unicodedata.normalize("NFC", label).lower()
    if not _DEVIATIONS & set(ulabel):
        return mapped
    return "xn--" + ulabel.encode("punycode").decode("ascii")


def _check_alabel(given: str, alabel: str) -> None:
    """An `xn--` label must decode to a name with non-ASCII letters (RFC 5891 5.4)."""
    try:
        decoded = alabel[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        decoded = ""
    if decoded.isascii():
        raise InvalidHostname(f"label {given!r} is not a valid internationalised (xn--) label")


def normalize(name: str, *, allow_wildcard: bool = False, presented: bool = False) -> str:
    """Return the canonical form of a host name, or raise InvalidHostname.

    Canonical: lower case, A-labels, no trailing dot. A wildcard is allowed only as the
    whole left-most label (`*.example.com`), as certificates use it.

    `presented`: the name comes from a certificate (a SAN dNSName), not from a person.
    A person may type a Unicode name and mean its A-label; a certificate may not: RFC
    5280 wants dNSNames as LDH names or A-labels, and browsers and OpenSSL never match
    raw UTF-8 in a SAN. A single label (`localhost`, `intranet`) is a valid dNSName.
    """
    if presented and not name.isascii():
        raise InvalidHostname(
            f"{name!r} holds characters outside ASCII; a certificate must hold an "
            "internationalised name as its A-label (xn--...)"
        )
    text = name.strip()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise InvalidHostname("the host name is empty")
    labels = text.split(".")
    if any(not label for label in labels):
        raise InvalidHostname(f"{name!r} has an empty label (two dots in a row?)")
    out: list[str] = []
    for index, label in enumerate(labels):
        if label == "*":
            if not allow_wildcard:
                raise InvalidHostname(f"{name!r} is a wildcard; a single host name is needed")
            if index != 0:
                raise InvalidHostname(f"{name!r}: '*' may only be the whole first label")
            out.append("*")
            continue
        alabel = _to_alabel(label)
        if len(alabel) > 63:
            raise InvalidHostname(f"{name!r}: label {label[:20]!r}... is longer than 63 characters")
        if not _LABEL.match(alabel):
            raise InvalidHostname(
                f"{name!r}: label {label!r} may hold only letters, digits and inner hyphens"
            )
        out.append(alabel)
    if (len(out) < 2 and not presented) or (out[0] == "*" and len(out) < 3):
        raise InvalidHostname(f"{name!r} needs a domain part, such as app.example.com")
    if out[-1].isdigit():
        raise InvalidHostname(f"{name!r} looks like an IP address, not a host name")
    result = ".".join(out)
    if len(result) > _MAX_NAME:
        raise InvalidHostname(f"{name!r} is longer than {_MAX_NAME} characters")
    return result


def to_unicode(name: str) -> str:
    """The Unicode form of a normalized name, for people (A-labels stay the identity).

    Label by label with punycode: the IDNA 2003 codec refuses IDNA 2008 labels such as
    xn--strae-oqa (straße) because they do not round-trip through its mapping.
    """
    labels: list[str] = []
    for label in name.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError):  # a damaged label stays as it is
                label = label[4:].encode("ascii").decode("punycode")
        labels.append(label)
    return ".".join(labels)


def is_wildcard(name: str) -> bool:
    return name.startswith("*.")


def san_matches(san: str, host: str) -> bool:
    """Does the certificate name `san` cover the concrete host `host`?

    Both must already be normalized. A wildcard covers exactly one label: `*.example.com`
    covers `a.example.com`, not `example.com` nor `a.b.example.com`.
    """
    if is_wildcard(san):
        head, _, rest = host.partition(".")
        return bool(head) and head != "*" and rest == san[2:]
    return san == host


def normalize_names(names: Iterable[str]) -> list[str]:
    """Normalize certificate names, dropping the ones that are not host names (see
    `invalid_names`): those never match anything."""
    result: list[str] = []
    for name in names:
        try:
            canon = normalize(name, allow_wildcard=True, presented=True)
        except InvalidHostname:
            continue
        if canon not in result:
            result.append(canon)
    return result


def invalid_names(names: Iterable[str]) -> list[tuple[str, str]]:
    """The certificate names that are not LDH names or A-labels, each with the reason:
    `normalize_names` drops them, so they never match a Domain."""
    found: list[tuple[str, str]] = []
    for name in names:
        try:
            normalize(name, allow_wildcard=True, presented=True)
        except InvalidHostname as exc:
            found.append((name, str(exc)))
    return found


def covers(sans: Iterable[str], domain: str) -> bool:
    """Does a certificate with these SANs cover the Domain field `domain`?

    A wildcard Domain must appear as that same wildcard in the SANs (a list of concrete
    names does not make a wildcard); a concrete Domain is covered by an equal name or by
    a one-label wildcard.
    """
    names = normalize_names(sans)
    if is_wildcard(domain):
        return domain in names
    return any(san_matches(san, domain) for san in names)
