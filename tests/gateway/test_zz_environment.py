"""The gateway tests leave the process environment as they found it (the vault passphrase they use is
not seen by any other test)."""

from __future__ import annotations

import os

from tests.gateway.conftest import VAULT_PASSPHRASE
from tests.gateway.stack import Stack


def test_no_vault_passphrase_leaks_to_other_tests(stack: Stack) -> None:
    assert stack.integration.auth.vault is not None
    assert os.environ.get("PORTICO_VAULT_PASSPHRASE") != VAULT_PASSPHRASE
