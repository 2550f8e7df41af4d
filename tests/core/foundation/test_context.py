"""Correlation scopes and ids: nesting, reset, decorators, uniqueness, and fork safety."""

from __future__ import annotations

import asyncio
import os
import re

import pytest

from portico import context
from portico.context import CorrelationScope, correlation_scope, current_correlation_id, new_correlation_id

HEX32 = re.compile(r"[0-9a-f]{32}")


def test_scope_sets_the_id_and_restores_the_previous_state() -> None:
    assert current_correlation_id() is None
    with correlation_scope() as cid:
        assert HEX32.fullmatch(cid)
        assert current_correlation_id() == cid
        with correlation_scope() as inner:
            assert inner == cid  # nested calls belong to the same operation
        with correlation_scope("given") as given:
            assert given == "given" and current_correlation_id() == "given"
        assert current_correlation_id() == cid
    assert current_correlation_id() is None


def test_scope_is_reset_when_the_block_raises() -> None:
    with pytest.raises(KeyError), correlation_scope("failing"):
        raise KeyError("x")
    assert current_correlation_id() is None


def test_a_scope_object_cannot_be_entered_twice_at_once() -> None:
    scope = CorrelationScope("once")
    with scope, pytest.raises(RuntimeError, match="already entered"), scope:
        pass
    assert current_correlation_id() is None
    with scope as again:  # reusable once left
        assert again == "once"


def test_decorator_gives_each_call_its_own_scope() -> None:
    @correlation_scope()
    def op() -> str | None:
        return current_correlation_id()

    first, second = op(), op()
    assert first and second and first != second
    assert current_correlation_id() is None
    with correlation_scope("outer"):
        assert op() == "outer"


async def test_decorated_coroutines_and_concurrent_tasks_keep_their_own_ids() -> None:
    @correlation_scope()
    async def op(gate: asyncio.Event) -> tuple[str | None, str | None]:
        before = current_correlation_id()
        await gate.wait()
        return before, current_correlation_id()

    gate = asyncio.Event()
    tasks = [asyncio.create_task(op(gate)) for _ in range(3)]
    await asyncio.sleep(0)  # let every task enter its scope before any leaves
    gate.set()
    results = await asyncio.gather(*tasks)
    assert all(before == after and before for before, after in results)
    assert len({before for before, _ in results}) == 3
    assert current_correlation_id() is None


def test_ids_are_unique_random_hex_across_batches() -> None:
    ids = [new_correlation_id() for _ in range(1000)]  # several refills of the pool
    assert all(HEX32.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_reuse_the_parents_pending_ids() -> None:
    new_correlation_id()  # make sure the parent holds a batch
    assert context._pool
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first id and leave without running pytest's teardown
        try:
            os.write(write_end, new_correlation_id().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    parent_id = new_correlation_id()  # the id the child would have taken had it kept the batch
    assert HEX32.fullmatch(child_id)
    assert child_id != parent_id
