"""One running runtime + gateway for the gateway tests (starting one costs about two seconds); tests
that change what it serves (the rate limit, the fuzzing) start their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.stack import Stack, running_stack

VAULT_PASSPHRASE = "gateway-test-vault-passphrase"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("gateway-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PORTICO_HOME", str(home))
        mp.setenv("PORTICO_VAULT_PASSPHRASE", VAULT_PASSPHRASE)
        with running_stack() as running:
            yield running
