"""A test PKI made with the `openssl` command line, in every file format people upload.

Our readers must not only grade what our own library (`cryptography`) produced, so these
fixtures come from the tool most certificates and keys in the wild come from.

Usage: the `openssl_pki` fixture (tests/conftest.py registers it), built once per test
session (`session_pki` gives the same one to a fixture of a module's own), or build one
directly::

    from tests.support.openssl_pki import OpenSSLPKI
    pki = OpenSSLPKI(tmp_path_factory.mktemp("openssl"))
    pki.leaf_pem            # bytes: RSA-2048 leaf for app.example.com / www.example.com
    pki.inter_pem           # bytes: intermediate CA (EC P-256), signed by the root
    pki.root_pem            # bytes: self-signed root CA (EC P-256)
    pki.key_pem             # bytes: the leaf's RSA-2048 key, PKCS#8 PEM, unencrypted
    pki.ec_key_pem          # bytes: an EC P-256 key, SEC1 PEM (`EC PRIVATE KEY`)
    pki.password            # bytes: the password of every encrypted fixture
    pki.path("leaf.der")    # Path of a derived file (see FILES for the names)
    pki.read("leaf.der")    # its bytes
    pki.make_leaf(["a.example.com"], key=pki.path("ec.key"), days=30, name="a")
                            # -> Path of a new PEM leaf signed by the intermediate
    pki.make_rsa_key(4160, "big.key")  # -> Path of a new PKCS#8 RSA key

Every file is created once, in the directory given to the constructor (a pytest tmp dir).
`FILES` maps each derived file name to what it holds.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509

PASSWORD = b"correct horse 42"

FILES: dict[str, str] = {
    "root.pem": "root CA certificate (EC P-256, self-signed)",
    "inter.pem": "intermediate CA certificate, signed by root",
    "leaf.pem": "RSA-2048 leaf, SANs app.example.com and www.example.com",
    "leaf.der": "the leaf, DER",
    "chain.pem": "the intermediate alone (Let's Encrypt chain.pem)",
    "fullchain.pem": "leaf then intermediate",
    "leaf.key": "the leaf key, PKCS#8 PEM (`PRIVATE KEY`)",
    "leaf.pkcs1.pem": "the leaf key, PKCS#1 PEM (`RSA PRIVATE KEY`)",
    "leaf.pkcs1.der": "the leaf key, PKCS#1 DER",
    "leaf.pkcs8.der": "the leaf key, PKCS#8 DER",
    "leaf.enc-pkcs8.pem": "the leaf key, encrypted PKCS#8 (PBES2 AES-256) PEM",
    "leaf.enc-pkcs8.der": "the leaf key, encrypted PKCS#8 (PBES2 AES-256) DER",
    "leaf.enc-trad.pem": "the leaf key, traditional encrypted PEM (Proc-Type, AES-256)",
    "ec.key": "an EC P-256 key, SEC1 PEM (`EC PRIVATE KEY`)",
    "ec.params.key": "the EC key with an `EC PARAMETERS` block first (ecparam -genkey)",
    "ec.pkcs8.pem": "the EC key, PKCS#8 PEM",
    "ec.sec1.der": "the EC key, SEC1 DER",
    "ec.enc-trad.pem": "the EC key, traditional encrypted PEM (AES-256)",
    "ec-leaf.pem": "a leaf for ec.example.com with the EC key",
    "chain.p7b": "leaf + intermediate, PKCS#7 PEM (crl2pkcs7)",
    "chain.p7b.der": "leaf + intermediate, PKCS#7 DER",
    "legacy.pfx": "PKCS#12, -legacy (RC2-40 certs, 3DES key, SHA-1 MAC), password",
    "3des.pfx": "PKCS#12, -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-RC2-40, password",
    "modern.pfx": "PKCS#12, AES-256-CBC (PBES2) for key and certs, password",
    "nopass.pfx": "PKCS#12 with an empty password (-passout pass:)",
    "nopass-legacy.pfx": "PKCS#12, -legacy, empty password",
    "plain.pfx": "PKCS#12, -keypbe NONE -certpbe NONE, empty password",
    "nomac.pfx": "PKCS#12, -keypbe NONE -certpbe NONE -nomac",
    "nomac-enc.pfx": "PKCS#12, AES-encrypted key and certificates, no MAC, password",
    "ec.pfx": "PKCS#12 of the EC leaf and key, AES, password",
    "leaf.trusted.pem": "the leaf as `TRUSTED CERTIFICATE` (x509 -trustout)",
    "leaf.csr.pem": "a CSR for the leaf key, PEM",
    "leaf.csr.der": "the CSR, DER",
    "new.csr.pem": "the CSR with the `NEW CERTIFICATE REQUEST` label",
    "fullchain.utf16le.pem": "fullchain as UTF-16 LE with a BOM",
    "fullchain.utf16be.pem": "fullchain as UTF-16 BE with a BOM",
    "fullchain.crlf.pem": "fullchain with CRLF line ends",
    "fullchain.bom.pem": "fullchain with a UTF-8 BOM",
    "bag.pem": "`openssl pkcs12 -nodes` output: Bag Attributes text, key and certificates",
}


def run(*args: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    """Run openssl (or another tool) and fail loudly with its stderr."""
    proc = subprocess.run(list(args), cwd=cwd, input=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


class OpenSSLPKI:
    """Root, intermediate and leaf made by `openssl`, and every derived format."""

    password = PASSWORD

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._serial = 100
        self._build()

    # --- access ---------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.dir / name

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    @property
    def root_pem(self) -> bytes:
        return self.read("root.pem")

    @property
    def inter_pem(self) -> bytes:
        return self.read("inter.pem")

    @property
    def leaf_pem(self) -> bytes:
        return self.read("leaf.pem")

    @property
    def key_pem(self) -> bytes:
        return self.read("leaf.key")

    @property
    def ec_key_pem(self) -> bytes:
        return self.read("ec.key")

    # --- making more ----------------------------------------------------------------------
    def openssl(self, *args: str, stdin: bytes | None = None) -> bytes:
        return run("openssl", *args, cwd=self.dir, stdin=stdin)

    def make_rsa_key(self, bits: int, name: str) -> Path:
        """A new RSA key as PKCS#8 PEM (slow above 4096 bits: make it once)."""
        self.openssl(
            "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}", "-out", name
        )
        return self.path(name)

    def make_leaf(
        self,
        sans: list[str],
        key: Path | None = None,
        days: int = 90,
        name: str | None = None,
    ) -> Path:
        """A PEM leaf for `sans`, signed by the intermediate, for `key` (default leaf.key)."""
        name = name or f"leaf-{self._serial}"
        key = key or self.path("leaf.key")
        ext = self.path(f"{name}.ext")
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid\n"
            f"subjectAltName={','.join('DNS:' + s for s in sans)}\n"
        )
        self.openssl(
            "req", "-new", "-key", str(key), "-subj", f"/CN={sans[0]}", "-out", f"{name}.csr"
        )
        self._serial += 1
        self.openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "inter.pem", "-CAkey", "inter.key",
            "-set_serial", str(self._serial), "-days", str(days), "-sha256",
            "-extfile", ext.name, "-out", f"{name}.pem",
        )  # fmt: skip
        return self.path(f"{name}.pem")

    # --- the fixed set --------------------------------------------------------------------
    def _build(self) -> None:
        o = self.openssl
        pw = f"pass:{self.password.decode()}"
        # Root and intermediate: EC keys are fast to make.
        o("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "root.key")
        (self.dir / "ca.ext").write_text(
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        )
        o("req", "-new", "-x509", "-key", "root.key", "-subj", "/O=certops tests/CN=OpenSSL Root",
          "-days", "3650", "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.pem")  # fmt: skip
        o("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "inter.key")
        o("req", "-new", "-key", "inter.key", "-subj", "/O=certops tests/CN=OpenSSL Inter",
          "-out", "inter.csr")  # fmt: skip
        o("x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root.key",
          "-set_serial", "2", "-days", "3000", "-sha256", "-extfile", "ca.ext",
          "-out", "inter.pem")  # fmt: skip
        # Leaf RSA-2048 key and certificate.
        self.make_rsa_key(2048, "leaf.key")
        self.make_leaf(["app.example.com", "www.example.com"], name="leaf")
        o("x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der")
        self.path("chain.pem").write_bytes(self.inter_pem)
        self.path("fullchain.pem").write_bytes(self.leaf_pem + self.inter_pem)
        # Key formats.
        o("rsa", "-in", "leaf.key", "-traditional", "-out", "leaf.pkcs1.pem")
        o("rsa", "-in", "leaf.key", "-traditional", "-outform", "DER", "-out", "leaf.pkcs1.der")
        o("pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-outform", "DER",
          "-out", "leaf.pkcs8.der")  # fmt: skip
        o("pkcs8", "-topk8", "-v2", "aes256", "-in", "leaf.key", "-passout", pw,
          "-out", "leaf.enc-pkcs8.pem")  # fmt: skip
        o("pkcs8", "-topk8", "-v2", "aes256", "-in", "leaf.key", "-passout", pw,
          "-outform", "DER", "-out", "leaf.enc-pkcs8.der")  # fmt: skip
        o("rsa", "-in", "leaf.key", "-aes256", "-traditional", "-passout", pw,
          "-out", "leaf.enc-trad.pem")  # fmt: skip
        o("ecparam", "-name", "prime256v1", "-genkey", "-out", "ec.params.key")
        o("ec", "-in", "ec.params.key", "-out", "ec.key")
        o("pkcs8", "-topk8", "-nocrypt", "-in", "ec.key", "-out", "ec.pkcs8.pem")
        o("ec", "-in", "ec.key", "-outform", "DER", "-out", "ec.sec1.der")
        o("ec", "-in", "ec.key", "-aes256", "-passout", pw, "-out", "ec.enc-trad.pem")
        self.make_leaf(["ec.example.com"], key=self.path("ec.key"), name="ec-leaf")
        # PKCS#7.
        o("crl2pkcs7", "-nocrl", "-certfile", "fullchain.pem", "-out", "chain.p7b")
        o("crl2pkcs7", "-nocrl", "-certfile", "fullchain.pem", "-outform", "DER",
          "-out", "chain.p7b.der")  # fmt: skip
        # PKCS#12.
        export = ("pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem",
                  "-certfile", "inter.pem", "-name", "leaf")  # fmt: skip
        o(*export, "-legacy", "-passout", pw, "-out", "legacy.pfx")
        o(*export, "-legacy", "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-RC2-40",
          "-passout", pw, "-out", "3des.pfx")  # fmt: skip
        o(*export, "-keypbe", "AES-256-CBC", "-certpbe", "AES-256-CBC", "-passout", pw,
          "-out", "modern.pfx")  # fmt: skip
        o(*export, "-passout", "pass:", "-out", "nopass.pfx")
        o(*export, "-legacy", "-passout", "pass:", "-out", "nopass-legacy.pfx")
        o(*export, "-keypbe", "NONE", "-certpbe", "NONE", "-passout", "pass:",
          "-out", "plain.pfx")  # fmt: skip
        o(*export, "-keypbe", "NONE", "-certpbe", "NONE", "-nomac", "-passout", "pass:",
          "-out", "nomac.pfx")  # fmt: skip
        o(*export, "-nomac", "-passout", pw, "-out", "nomac-enc.pfx")
        o("pkcs12", "-export", "-inkey", "ec.key", "-in", "ec-leaf.pem", "-certfile", "inter.pem",
          "-passout", pw, "-out", "ec.pfx")  # fmt: skip
        o("pkcs12", "-in", "modern.pfx", "-nodes", "-passin", pw, "-out", "bag.pem")
        # TRUSTED CERTIFICATE, CSR.
        o("x509", "-in", "leaf.pem", "-trustout", "-addtrust", "serverAuth",
          "-out", "leaf.trusted.pem")  # fmt: skip
        o("req", "-new", "-key", "leaf.key", "-subj", "/CN=app.example.com", "-out", "leaf.csr.pem")
        o("req", "-in", "leaf.csr.pem", "-outform", "DER", "-out", "leaf.csr.der")
        csr = self.read("leaf.csr.pem").replace(b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST")
        self.path("new.csr.pem").write_bytes(csr)
        # Text encodings.
        full = self.read("fullchain.pem").decode("ascii")
        self.path("fullchain.utf16le.pem").write_bytes(b"\xff\xfe" + full.encode("utf-16-le"))
        self.path("fullchain.utf16be.pem").write_bytes(b"\xfe\xff" + full.encode("utf-16-be"))
        self.path("fullchain.crlf.pem").write_bytes(full.replace("\n", "\r\n").encode())
        self.path("fullchain.bom.pem").write_bytes(b"\xef\xbb\xbf" + full.encode())


_BUILT: dict[Path, OpenSSLPKI] = {}


def session_pki(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLPKI:
    """The session's OpenSSLPKI, built once however many modules ask for it."""
    base = tmp_path_factory.getbasetemp()
    if base not in _BUILT:
        _BUILT[base] = OpenSSLPKI(tmp_path_factory.mktemp("openssl-pki"))
    return _BUILT[base]


@pytest.fixture(scope="session")
def openssl_pki(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLPKI:
    """The session's OpenSSLPKI, for every test module (registered by tests/conftest.py)."""
    return session_pki(tmp_path_factory)


class OpenSSLCerts:
    """Certificates with exactly the extensions a test writes, made by `openssl x509 -req`
    (self-signed with `-signkey`), for path building and leaf-rule cases::

        tool = OpenSSLCerts(tmp_path)
        tool.key("root")                                   # root.key, EC P-256
        tool.issue("root", "/CN=Root", key="root", ext=CA_EXT)            # self-signed
        tool.issue("inter", "/CN=Inter", key="inter", issuer="root", ext=CA_EXT)
        tool.load("inter")                                 # x509.Certificate

    `issuer` names the certificate (and, unless `issuer_key` says otherwise, the key) that
    signs; a self-issued certificate (key rollover) is `issue("new-by-old", "/CN=Root",
    key="new", issuer="root")`: the subject of the issuer, another key.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.serial = 1000

    def openssl(self, *args: str) -> bytes:
        return run("openssl", *args, cwd=self.dir)

    def key(self, name: str, rsa_bits: int | None = None) -> Path:
        path = self.dir / f"{name}.key"
        if not path.exists():
            if rsa_bits:
                self.openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                             f"rsa_keygen_bits:{rsa_bits}", "-out", path.name)  # fmt: skip
            else:
                self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                             "ec_paramgen_curve:P-256", "-out", path.name)  # fmt: skip
        return path

    def issue(
        self,
        name: str,
        subject: str,
        *,
        key: str,
        ext: str,
        issuer: str | None = None,
        issuer_key: str | None = None,
        days: int = 365,
    ) -> Path:
        self.key(key)
        self.serial += 1
        (self.dir / f"{name}.ext").write_text(ext)
        self.openssl("req", "-new", "-key", f"{key}.key", "-subj", subject, "-out", f"{name}.csr")
        signer = (
            ["-signkey", f"{key}.key"]
            if issuer is None
            else ["-CA", f"{issuer}.pem", "-CAkey", f"{issuer_key or issuer}.key"]
        )
        self.openssl("x509", "-req", "-in", f"{name}.csr", *signer, "-set_serial",
                     str(self.serial), "-days", str(days), "-sha256", "-extfile", f"{name}.ext",
                     "-out", f"{name}.pem")  # fmt: skip
        return self.dir / f"{name}.pem"

    def pem(self, *names: str) -> bytes:
        return b"".join((self.dir / f"{n}.pem").read_bytes() for n in names)

    def load(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.dir / f"{name}.pem").read_bytes())

    def verify(self, leaf: str, *, roots: list[str], untrusted: list[str]) -> str:
        """`openssl verify`'s own verdict, for comparison: its last line."""
        (self.dir / "roots.tmp.pem").write_bytes(self.pem(*roots))
        args = ["verify", "-CAfile", "roots.tmp.pem"]
        if untrusted:
            (self.dir / "untrusted.tmp.pem").write_bytes(self.pem(*untrusted))
            args += ["-untrusted", "untrusted.tmp.pem"]
        proc = subprocess.run(["openssl", *args, f"{leaf}.pem"], cwd=self.dir,
                              capture_output=True, check=False)  # fmt: skip
        return (proc.stdout + proc.stderr).decode(errors="replace").strip()
