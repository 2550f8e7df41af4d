"""One running runtime + gateway for the gateway tests (starting one costs about two seconds); tests
that change what it serves (the rate limit, the fuzzing) start their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.gateway.stack import Stack, running_stack

VAULT_PASSPHRASE = "gateway-test-vault-passphrase"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack_with_vault(tmp_path_factory, "gateway-home") as running:
        yield running


@contextmanager
def stack_with_vault(
    tmp_path_factory: pytest.TempPathFactory, name: str, **overrides: object
) -> Iterator[Stack]:
    """A stack whose runtime holds a credential vault; the environment it read is restored once it
    started (the runtime keeps the vault it built), so no other test sees the passphrase."""
    env = pytest.MonkeyPatch()
    env.setenv("PORTICO_HOME", str(tmp_path_factory.mktemp(name)))
    env.setenv("PORTICO_VAULT_PASSPHRASE", VAULT_PASSPHRASE)
    try:
        with running_stack(**overrides) as running:
            assert running.integration.auth.vault is not None
            env.undo()
            yield running
    finally:
        env.undo()
