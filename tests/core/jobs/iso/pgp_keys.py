"""Keyrings for the PGP tests: portico's, a custodian's and a stranger's, made with the real gpg.

GnuPG homes sit in short folders under /tmp (the agent's socket path has a length limit); each home's
gpg-agent, started by these tests, is stopped with ``gpgconf --kill`` at teardown.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gnupg

PORTICO_PASSPHRASE = "portico-key-passphrase-1"
CUSTODIAN_PASSPHRASE = "custodian-key-passphrase-2"


@dataclass
class Party:
    home: Path
    gpg: gnupg.GPG
    fingerprint: str
    passphrase: str

    def public(self) -> str:
        return str(self.gpg.export_keys(self.fingerprint))


def make_party(name: str, passphrase: str) -> Party:
    home = Path(tempfile.mkdtemp(prefix="g", dir="/tmp"))
    home.chmod(0o700)
    gpg = gnupg.GPG(gnupghome=str(home))
    spec = gpg.gen_key_input(
        key_type="EDDSA",
        key_curve="ed25519",
        subkey_type="ECDH",
        subkey_curve="cv25519",
        name_real=name,
        name_email=f"{name.lower().replace(' ', '.')}@example.test",
        passphrase=passphrase,
        expire_date=0,
    )
    key = gpg.gen_key(spec)
    assert key.fingerprint, key.stderr
    return Party(home, gpg, str(key.fingerprint), passphrase)


def stop(*homes: Path) -> None:
    for home in homes:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
