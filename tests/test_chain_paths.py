"""Path building tries every candidate (issue 12, points 3 and 4).

Two versions of an intermediate (one name-constrained), cross-signed intermediates,
several roots with one name, key rollover with a self-issued certificate, and CAs whose
keyUsage lacks keyCertSign. Fixtures from the `openssl` command line (OpenSSLCerts) and
from `cryptography` (tests/support/pki.py), judged through `validate()` and `build_chain`.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bot.pipeline.chain import MAX_CANDIDATES, MAX_PATHS, build_chain
from bot.pipeline.material import InputFile, Passwords
from bot.pipeline.report import Report
from bot.pipeline.trust import TrustStore
from bot.pipeline.validate import ValidateOptions, validate
from tests.support.openssl_pki import OpenSSLCerts
from tests.support.pki import CA, NOW, ec_key, name

ORG = "/O=certops tests"


def ca_ext(pathlen: int | None = None, extra: str = "", usage: str = "keyCertSign,cRLSign") -> str:
    limit = f",pathlen:{pathlen}" if pathlen is not None else ""
    return (
        f"basicConstraints=critical,CA:TRUE{limit}\nkeyUsage=critical,{usage}\n"
        f"subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n{extra}"
    )


def leaf_ext(*names: str) -> str:
    return (
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
        f"authorityKeyIdentifier=keyid\nsubjectAltName={','.join('DNS:' + n for n in names)}\n"
    )


EXCLUDE_BLOCKED = "nameConstraints=critical,excluded;DNS:blocked.example.com\n"


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLCerts:
    t = OpenSSLCerts(tmp_path_factory.mktemp("openssl-paths"))
    t.issue("root", f"{ORG}/CN=Paths Root", key="root", ext=ca_ext())
    # Same subject, same key: one excludes blocked.example.com, one does not.
    t.issue("inter-nc", f"{ORG}/CN=Paths Inter", key="inter", issuer="root", ext=ca_ext(extra=EXCLUDE_BLOCKED))  # fmt: skip
    t.issue("inter", f"{ORG}/CN=Paths Inter", key="inter", issuer="root", ext=ca_ext())
    t.issue("leaf", "/CN=app.blocked.example.com", key="leaf", issuer="inter",
            ext=leaf_ext("app.blocked.example.com"))  # fmt: skip
    # Cross-signed: the same intermediate under a constrained root A and a plain root B.
    t.issue("root-a", f"{ORG}/CN=Cross Root A", key="root-a",
            ext=ca_ext(extra="nameConstraints=critical,permitted;DNS:elsewhere.example\n"))  # fmt: skip
    t.issue("root-b", f"{ORG}/CN=Cross Root B", key="root-b", ext=ca_ext())
    t.issue("cross-by-a", f"{ORG}/CN=Cross Inter", key="cross", issuer="root-a", ext=ca_ext())
    t.issue("cross-by-b", f"{ORG}/CN=Cross Inter", key="cross", issuer="root-b", ext=ca_ext())
    t.issue("cross-leaf", "/CN=cross.example.com", key="leaf", issuer="cross-by-a",
            issuer_key="cross", ext=leaf_ext("cross.example.com"))  # fmt: skip
    # Two roots with one name and one key: the first lacks keyCertSign.
    t.issue("twin-nosign", f"{ORG}/CN=Twin Root", key="twin", ext=ca_ext(usage="digitalSignature,cRLSign"))  # fmt: skip
    t.issue("twin", f"{ORG}/CN=Twin Root", key="twin", ext=ca_ext())
    t.issue("twin-inter", f"{ORG}/CN=Twin Inter", key="twin-inter", issuer="twin", ext=ca_ext())
    t.issue("twin-leaf", "/CN=twin.example.com", key="leaf", issuer="twin-inter",
            ext=leaf_ext("twin.example.com"))  # fmt: skip
    # An intermediate whose keyUsage lacks keyCertSign.
    t.issue("nosign-inter", f"{ORG}/CN=NoSign Inter", key="nosign", issuer="root",
            ext=ca_ext(usage="digitalSignature"))  # fmt: skip
    t.issue("nosign-leaf", "/CN=nosign.example.com", key="leaf", issuer="nosign-inter", issuer_key="nosign",
            ext=leaf_ext("nosign.example.com"))  # fmt: skip
    return t


def run(tool: OpenSSLCerts, *names: str, roots: list[str], domain: str | None = None) -> Report:
    files = [InputFile(f"{n}.pem", tool.pem(n)) for n in names]
    files.append(InputFile("leaf.key", (tool.dir / "leaf.key").read_bytes()))
    options = ValidateOptions(domain=domain, extra_roots=[tool.load(r) for r in roots])
    return validate(files, Passwords(), options)


def chain_subjects(report: Report) -> list[str]:
    return [entry.cert.subject.rfc4514_string() for entry in report.chain]


def errors(report: Report) -> list[str]:
    return [f.message for f in report.findings if f.severity == "error"]


# --- the unconstrained twin of a constrained intermediate ------------------------------------


@pytest.mark.parametrize("order", [("inter-nc", "inter"), ("inter", "inter-nc")])
def test_constrained_and_unconstrained_intermediate_the_valid_path_is_found(
    tool: OpenSSLCerts, order: tuple[str, str]
) -> None:
    report = run(tool, "leaf", *order, roots=["root"], domain="app.blocked.example.com")
    assert report.valid, report.findings
    assert "chain_invalid" not in report.codes
    assert report.chain[0].cert == tool.load("inter")  # the unconstrained one


def test_the_constrained_intermediate_alone_is_still_refused(tool: OpenSSLCerts) -> None:
    report = run(tool, "leaf", "inter-nc", roots=["root"])
    assert report.codes.count("chain_invalid") == 1, report.findings
    text = errors(report)[0]
    assert "Name constraints violated" in text and "excluded: blocked.example.com" in text
    assert "paths tried" not in text  # one path: the report's chain already shows it


# --- cross-signed intermediates and several roots -------------------------------------------


def test_cross_signed_intermediate_the_root_that_verifies_is_used(tool: OpenSSLCerts) -> None:
    report = run(tool, "cross-leaf", "cross-by-a", "cross-by-b", roots=["root-a", "root-b"])
    assert report.valid, report.findings
    assert report.chain[0].cert == tool.load("cross-by-b")
    assert report.chain[-1].cert == tool.load("root-b")


def test_several_roots_with_one_name_the_one_that_verifies_is_used(tool: OpenSSLCerts) -> None:
    report = run(tool, "twin-leaf", "twin-inter", roots=["twin-nosign", "twin"])
    assert report.valid, report.findings
    assert report.chain[-1].cert == tool.load("twin")


def test_each_anchored_path_is_verified_until_one_passes(tool: OpenSSLCerts) -> None:
    leaf, by_a, by_b = tool.load("cross-leaf"), tool.load("cross-by-a"), tool.load("cross-by-b")
    both = TrustStore([tool.load("root-a"), tool.load("root-b")], include_certifi=False)
    crossed = build_chain(leaf, [by_a, by_b], trust=both, now=dt.datetime.now(dt.UTC))
    assert crossed.trusted and crossed.paths_tried == 2  # via A (refused), then via B
    only_a = TrustStore([tool.load("root-a")], include_certifi=False)
    failing = build_chain(leaf, [by_a, by_b], trust=only_a, now=dt.datetime.now(dt.UTC))
    assert not failing.trusted and failing.paths_tried == 1
    assert "Name constraints violated" in failing.findings[0].message


def test_all_paths_failing_report_the_best_one_and_say_which(tool: OpenSSLCerts) -> None:
    tool.issue("root-b-nosign", f"{ORG}/CN=Cross Root B", key="root-b",
               ext=ca_ext(usage="digitalSignature"))  # fmt: skip
    result = build_chain(
        tool.load("cross-leaf"),
        [tool.load("cross-by-a"), tool.load("cross-by-b")],
        trust=TrustStore([tool.load("root-a"), tool.load("root-b-nosign")], include_certifi=False),
        now=dt.datetime.now(dt.UTC),
    )
    assert not result.trusted and result.paths_tried == 2
    invalid = [f.message for f in result.findings if f.code == "chain_invalid"]
    assert len(invalid) == 1, result.findings
    assert "the best of 2 paths tried, none of which verifies" in invalid[0]
    assert "On the path “cross.example.com” → “Cross Inter” → " in invalid[0]
    assert "bounds" not in invalid[0]


# --- CA certificates whose keyUsage lacks keyCertSign ---------------------------------------


def test_trusted_root_whose_key_usage_lacks_key_cert_sign_is_invalid(tool: OpenSSLCerts) -> None:
    report = run(tool, "twin-leaf", "twin-inter", roots=["twin-nosign"])
    assert report.codes.count("chain_invalid") == 1, report.findings
    text = errors(report)[0]
    assert "trusted root “Twin Root”" in text
    assert "keyUsage (digitalSignature, cRLSign) lacks keyCertSign" in text


def test_uploaded_root_whose_key_usage_lacks_key_cert_sign_is_invalid(tool: OpenSSLCerts) -> None:
    report = run(tool, "twin-leaf", "twin-inter", "twin-nosign", roots=[])
    assert "chain_invalid" in report.codes and not report.valid
    assert any("“Twin Root”" in e and "lacks keyCertSign" in e for e in errors(report))


def test_intermediate_whose_key_usage_lacks_key_cert_sign_is_invalid(tool: OpenSSLCerts) -> None:
    report = run(tool, "nosign-leaf", "nosign-inter", roots=["root"])
    assert report.codes.count("chain_invalid") == 1, report.findings
    text = errors(report)[0]
    assert "“NoSign Inter”" in text and "keyUsage (digitalSignature) lacks keyCertSign" in text
    assert "OK" not in tool.verify("nosign-leaf", roots=["root"], untrusted=["nosign-inter"])


# --- key rollover: a self-issued certificate between a CA and its new key -------------------


@pytest.fixture(scope="module")
def rollover(tool: OpenSSLCerts) -> OpenSSLCerts:
    for tag, pathlen, extra in (
        ("", 1, ""),
        ("0", 0, ""),
        ("nc", 1, "nameConstraints=critical,permitted;DNS:example.com\n"),
    ):
        subject = f"{ORG}/CN=Roll Root {tag or 'One'}"
        tool.issue(f"roll{tag}-old", subject, key=f"roll{tag}-old", ext=ca_ext(pathlen, extra))
        tool.issue(f"roll{tag}-new", subject, key=f"roll{tag}-new", issuer=f"roll{tag}-old",
                   ext=ca_ext(pathlen, extra))  # fmt: skip
        tool.issue(f"roll{tag}-inter", f"{ORG}/CN=Roll Inter {tag or 'One'}", key="roll-inter",
                   issuer=f"roll{tag}-new", ext=ca_ext(0))  # fmt: skip
        tool.issue(f"roll{tag}-leaf", "/CN=roll.example.com", key="leaf",
                   issuer=f"roll{tag}-inter", issuer_key="roll-inter",
                   ext=leaf_ext("roll.example.com"))  # fmt: skip
    return tool


def test_key_rollover_chain_is_valid_as_openssl_finds(rollover: OpenSSLCerts) -> None:
    """RFC 5280 does not count the self-issued certificate towards pathLenConstraint."""
    files = ("roll-leaf", "roll-inter", "roll-new")
    assert rollover.verify("roll-leaf", roots=["roll-old"], untrusted=list(files[1:])).endswith(
        "OK"
    )
    report = run(rollover, *files, roots=["roll-old"], domain="roll.example.com")
    assert report.valid, report.findings
    assert [e.cert for e in report.chain] == [
        rollover.load("roll-inter"),
        rollover.load("roll-new"),
        rollover.load("roll-old"),
    ]


def test_key_rollover_over_the_path_length_is_named_not_a_bad_signature(
    rollover: OpenSSLCerts,
) -> None:
    files = ("roll0-leaf", "roll0-inter", "roll0-new")
    assert "path length constraint exceeded" in rollover.verify(
        "roll0-leaf", roots=["roll0-old"], untrusted=list(files[1:])
    )
    report = run(rollover, *files, roots=["roll0-old"])
    assert not report.valid
    text = " ".join(errors(report))
    assert "Path length exceeded" in text and "Roll Root 0" in text
    assert "signature" not in text


def test_key_rollover_under_name_constraints_is_refused_precisely(rollover: OpenSSLCerts) -> None:
    report = run(rollover, "rollnc-leaf", "rollnc-inter", "rollnc-new", roots=["rollnc-old"])
    assert report.codes.count("chain_invalid") == 1, report.findings
    text = errors(report)[0]
    assert "self-issued (key rollover) certificate “Roll Root nc”" in text
    assert "name constraints" in text and "signature" not in text


def _rollover_cert(
    subject: x509.Name,
    issuer: x509.Name,
    key: object,
    signer: object,
    *,
    ca: bool,
    pathlen: int | None = None,
) -> x509.Certificate:
    public = key.public_key()  # type: ignore[attr-defined]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=10))
        .not_valid_after(NOW + dt.timedelta(days=300))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),  # type: ignore[attr-defined]
            critical=False,
        )
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        san = x509.SubjectAlternativeName([x509.DNSName("roll.example.com")])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]


def test_key_rollover_made_with_cryptography() -> None:
    old, new, inter_key, leaf_key = (ec_key("P-256", i) for i in (601, 602, 603, 604))
    root_name, inter_name = name("Py Roll Root"), name("Py Roll Inter")
    root = _rollover_cert(root_name, root_name, old, old, ca=True, pathlen=1)
    new_by_old = _rollover_cert(root_name, root_name, new, old, ca=True, pathlen=1)
    inter = _rollover_cert(inter_name, root_name, inter_key, new, ca=True, pathlen=0)
    leaf = _rollover_cert(name("roll.example.com"), inter_name, leaf_key, inter_key, ca=False)
    result = build_chain(
        leaf, [inter, new_by_old], trust=TrustStore([root], include_certifi=False), now=NOW
    )
    assert result.trusted and result.findings == []
    assert [link.cert for link in result.links] == [leaf, inter, new_by_old, root]


# --- bounds ---------------------------------------------------------------------------------


def test_many_failing_twins_are_cut_short_and_cheap() -> None:
    """Thirty constrained copies of one intermediate before the good one: the search
    tries MAX_CANDIDATES of them, verifies at most MAX_PATHS paths and stops."""
    root = CA.root("Bound Root", key=ec_key("P-256", 620))
    key = ec_key("P-256", 621)
    bad = [
        root.intermediate("Bound Inter", key=key, permitted_dns=[f"x{i}.example"]).cert
        for i in range(30)
    ]
    good = root.intermediate("Bound Inter", key=key)
    leaf = good.leaf(sans=["bound.example.com"])
    trust = TrustStore([root.cert], include_certifi=False)
    started = time.monotonic()
    result = build_chain(leaf.cert, [*bad, good.cert], trust=trust, now=NOW)
    assert time.monotonic() - started < 2.0  # generous: about 10 ms on a quiet machine
    assert result.paths_tried == MAX_CANDIDATES <= MAX_PATHS
    assert not result.trusted and "best of 8 paths tried" in result.findings[0].message
    assert "stopped at its bounds" in result.findings[0].message
    within = build_chain(leaf.cert, [*bad[:3], good.cert], trust=trust, now=NOW)
    assert within.trusted and within.paths_tried == 4


def test_expired_and_current_copies_of_a_trusted_root() -> None:
    """Roots re-issued with new dates keep their name and key: the current one is used."""
    key = ec_key("P-256", 630)
    expired = CA.root("Renewed Root", key=key, not_after=NOW - dt.timedelta(days=1))
    current = CA.root("Renewed Root", key=key)
    inter = current.intermediate("Renewed Inter", key=ec_key("P-256", 631))
    leaf = inter.leaf(sans=["renewed.example.com"])
    for roots in ([expired.cert, current.cert], [current.cert, expired.cert]):
        result = build_chain(
            leaf.cert, [inter.cert], trust=TrustStore(roots, include_certifi=False), now=NOW
        )
        assert result.trusted and result.findings == [], result.findings
        assert result.links[-1].cert == current.cert
    only_expired = build_chain(
        leaf.cert, [inter.cert], trust=TrustStore([expired.cert], include_certifi=False), now=NOW
    )
    assert not only_expired.trusted and "expired" in only_expired.findings[0].message
