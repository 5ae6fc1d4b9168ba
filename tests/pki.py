"""Test certificates made with the openssl CLI: a CA, a server cert for 127.0.0.1, a client cert."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import bcrypt


@dataclass(frozen=True)
class Pki:
    """Paths of a throwaway CA and the certificates it signed."""

    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def make_pki(root: Path) -> Pki:
    """A P-256 CA, a server certificate valid for 127.0.0.1/localhost and a client certificate."""
    root.mkdir(parents=True, exist_ok=True)
    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2")
    ca, ca_key = root / "ca.pem", root / "ca.key"
    _openssl("req", "-x509", *curve, "-keyout", ca_key, "-out", ca, "-subj", "/CN=watcher test CA")
    out = {}
    for name, san in (("server", "IP:127.0.0.1,DNS:localhost"), ("client", "DNS:prometheus")):
        cert, key = root / f"{name}.pem", root / f"{name}.key"
        _openssl(
            "req", "-x509", *curve, "-keyout", key, "-out", cert, "-subj", f"/CN={name}",
            "-CA", ca, "-CAkey", ca_key, "-addext", f"subjectAltName={san}",
        )  # fmt: skip
        out[name] = (cert, key)
    return Pki(ca, *out["server"], *out["client"])


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash at the lowest cost, so tests stay fast (the format is what matters)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
