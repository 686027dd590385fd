"""One-shot (compose service ``trino-secrets``): what Trino's configuration names but the
repository must never hold, generated on the deployment host into volumes.

* ``tls/coordinator.pem``: a key and a self-signed certificate for the coordinator's HTTPS
  port (``http-server.https.keystore.path``), names ``trino-coordinator`` and ``localhost``.
  Kept once made (clients trust it); replace it with one from the province's CA in place.
* ``ca/ca-bundle.pem``: the public CAs (certifi) plus that certificate, for the platform's
  and Superset's Trino clients (``REQUESTS_CA_BUNDLE``), so HTTPS is verified, not skipped.
* ``passwords/password.db``: the file authenticator's bcrypt lines for the platform's own
  users (dbt, superset), from ``TRINO_DBT_PASSWORD`` / ``TRINO_SUPERSET_PASSWORD``; department
  users are added with ``python -m lakehouse.gateway.auth USER --password-file ...``.

Runs in the platform image (cryptography, certifi, lakehouse.gateway.auth are installed), as
root so it can hand the files to Trino's user (``TRINO_UID_GID``, default 1000:1000).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import sys
from pathlib import Path

PLATFORM_USERS = {"dbt": "TRINO_DBT_PASSWORD", "superset": "TRINO_SUPERSET_PASSWORD"}
NAMES = ["trino-coordinator", "localhost"]


def certificate(pem: Path) -> bytes:
    """The coordinator's PEM (key + certificate), made once; returns the certificate part."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if not pem.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAMES[0])])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName(
                    [*(x509.DNSName(n) for n in NAMES), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                    critical=False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(key, hashes.SHA256()))
        pem.parent.mkdir(parents=True, exist_ok=True)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "wb") as out:
            out.write(key_pem + cert.public_bytes(serialization.Encoding.PEM))
    text = pem.read_bytes()
    start = text.index(b"-----BEGIN CERTIFICATE-----")
    return text[start:]


def main(root: str) -> int:
    import certifi

    from lakehouse.gateway.auth import add_user

    base = Path(root)
    cert = certificate(base / "tls" / "coordinator.pem")
    bundle = base / "ca" / "ca-bundle.pem"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + cert)
    (base / "ca" / "coordinator.crt").write_bytes(cert)
    for user, variable in PLATFORM_USERS.items():
        password = os.environ.get(variable)
        if not password:
            raise SystemExit(f"{variable} is not set: run infra/compose/generate-env.sh")
        add_user(base / "passwords" / "password.db", user, password)
    # Trino runs as uid/gid 1000 in its image: it must read the key and the password file.
    uid, _, gid = os.environ.get("TRINO_UID_GID", "1000:1000").partition(":")
    if os.geteuid() == 0:
        for path in [base / "tls", *(base / "tls").iterdir(), base / "passwords", *(base / "passwords").iterdir()]:
            os.chown(path, int(uid), int(gid))
    for path in (base / "ca").iterdir():
        path.chmod(0o644)
    print(f"Trino secrets ready under {base}: tls/coordinator.pem, ca/ca-bundle.pem, passwords/password.db "
          f"({', '.join(PLATFORM_USERS)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "/secrets"))
