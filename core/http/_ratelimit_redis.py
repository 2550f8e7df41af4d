"""Rate-limit budgets in Redis, shared by every process that uses one API key.

Each window is a sorted set of spends scored by wall-clock time (members ``"<cost>:<uuid>"``). One Lua
script expires old spends, checks every window and records the spend in all of them atomically, so two
processes can never both take the last token. Keys are named after the connector and a fingerprint of the
credentials (:func:`~portico.http.credential_fingerprint`), never the key itself, and expire on their own
once idle.

A failed Redis call is not yet Redis down: one process's call can time out while the others reach Redis
(its event loop held past the socket timeout on a loaded machine, a dropped connection), and a process
spending a local share while the others still spend all of Redis's would overrun the vendor's limit in
aggregate (the soak saw 223 requests of one key in a minute against 200: one worker's call timed out
in the first seconds and its local third came on top of the fleet's whole budget). So after a failure
the budget admits nothing and asks Redis again every ``retry_seconds``; an answer means shared, as
before. Only once every call has failed for ``confirm_seconds`` is Redis taken as down for the whole
fleet, and only then does the budget fall back to a conservative share of its own, ``limit / workers`` of
every window (``workers``: the processes sharing the key, ``scale_out.workers``). What the whole fleet
had spent in each window, as this process last saw it in Redis, is taken as spent at that moment (its
``1 / workers`` part by each process; all of it by a process that never reached Redis), so N processes
stay within the vendor's limit in aggregate while the spends they cannot see expire. ``on_mode`` is told (the runtime raises an event and the monitor shows it);
Redis is probed again every ``probe_seconds`` and, once it answers, the budget is shared again; for one
longest window after that, each call must fit both Redis and the local share (Redis may have restarted
empty, and the other processes may still be spending their local shares).

A process that made no call while Redis was away saw no failure, so it has no local period, and would
find an empty Redis and spend the whole budget again on top of the others' local shares (the soak: 208
requests of one key in a minute against 200). So the script keeps an epoch (when this Redis began keeping
the budget): an answer with an epoch other than the one this process knew means Redis lost the spends,
and the process starts a local share as above and keeps to it (and to Redis) for one longest window.
The first process to see the epoch change also marks Redis "lost until" one window on, with the fleet's
spend as it last saw it (the most any process that saw the loss reports): a process starting meanwhile (a
worker restarted during the outage; the soak's 258 against 200), which knew no epoch, finds the mark and
takes its part of that spend as spent, keeping to its share until then. A fleet starting finds no mark and Redis is
trusted from the first call.
"""

from __future__ import annotations

import collections
import math
import uuid
from collections.abc import Callable
from typing import Any

from portico.policy import RateWindow

__all__ = ["LocalShare", "RedisRateLimitBackend"]


def _unreachable() -> tuple[type[BaseException], ...]:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (RedisConnectionError, RedisTimeoutError, OSError)


try:
    _UNREACHABLE = _unreachable()
except ImportError:  # redis is an optional dependency: without it this backend is never built
    _UNREACHABLE = (OSError,)

# KEYS: one sorted set per window, then the "blocked until", epoch and "lost until" keys.
# ARGV: now, cost, member id, then limit and period for each window, then the epoch the caller knew ('' for
# none) and how long a loss is held (seconds).
# Returns {admitted (1/0), wait seconds, remaining per window..., epoch, lost until} as strings (Lua numbers
# would be truncated). The epoch is when this Redis began keeping the budget: it changes when Redis lost the
# spends (restarted empty, flushed, failed over to an empty replica); it is kept a week after the last call.
# A caller that knew another epoch is the first to see the loss: "lost until" is set to now + the hold, so
# processes starting meanwhile, which knew no epoch, learn that this Redis does not know the window's spends.
_RESERVE = """
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local member = ARGV[3]
local n = #KEYS - 3
local epoch = redis.call('GET', KEYS[n + 2])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[n + 2], epoch)
end
redis.call('PEXPIRE', KEYS[n + 2], 604800000)
local known = ARGV[4 + 2 * n]
local lost = tonumber(redis.call('HGET', KEYS[n + 3], 'until') or '0')
if known ~= '' and known ~= epoch then
  local hold = tonumber(ARGV[5 + 2 * n])
  if now + hold > lost then
    lost = now + hold
    redis.call('HSET', KEYS[n + 3], 'until', tostring(lost))
    redis.call('PEXPIRE', KEYS[n + 3], math.ceil(hold * 1000) + 1000)
  end
  for i = 1, n do
    local seen = tonumber(ARGV[5 + 2 * n + i])
    if seen > tonumber(redis.call('HGET', KEYS[n + 3], tostring(i)) or '0') then
      redis.call('HSET', KEYS[n + 3], tostring(i), tostring(seen))
    end
  end
end
local tail = {epoch, tostring(lost)}
for i = 1, n do tail[2 + i] = redis.call('HGET', KEYS[n + 3], tostring(i)) or '0' end
local eps = 1e-9
local wait = 0
local blocked = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
if blocked > now then wait = blocked - now end
local used = {}
local entries_of = {}
for i = 1, n do
  local limit = tonumber(ARGV[2 + 2 * i])
  local period = tonumber(ARGV[3 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - period + eps)
  local entries = redis.call('ZRANGE', KEYS[i], 0, -1, 'WITHSCORES')
  local total = 0
  for j = 1, #entries, 2 do
    total = total + tonumber(string.match(entries[j], '^([^:]+)'))
  end
  used[i] = total
  local excess = total + cost - limit
  if excess > eps then
    local freed = 0
    for j = 1, #entries, 2 do
      freed = freed + tonumber(string.match(entries[j], '^([^:]+)'))
      if freed >= excess - eps then
        local w = tonumber(entries[j + 1]) + period - now
        if w < eps then w = eps end
        if w > wait then wait = w end
        break
      end
    end
  end
end
local out = {}
if wait > 0 then
  out[1] = '0'
  out[2] = tostring(wait)
  for i = 1, n do out[2 + i] = tostring(tonumber(ARGV[2 + 2 * i]) - used[i]) end
  for i = 1, n + 2 do out[2 + n + i] = tail[i] end
  return out
end
for i = 1, n do
  local period = tonumber(ARGV[3 + 2 * i])
  redis.call('ZADD', KEYS[i], now, ARGV[2] .. ':' .. member)
  redis.call('PEXPIRE', KEYS[i], math.ceil(period * 1000) + 1000)
  out[2 + i] = tostring(tonumber(ARGV[2 + 2 * i]) - used[i] - cost)
end
out[1] = '1'
out[2] = '0'
for i = 1, n + 2 do out[2 + n + i] = tail[i] end
return out
"""

_BLOCK = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
end
return 1
"""


class LocalShare:
    """This process's own spends, and its fallback budget of ``limit / workers`` per window."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._spends: dict[float, collections.deque[tuple[float, float]]] = {}
        self._blocked_until = -math.inf

    def _log(self, period: float, now: float) -> collections.deque[tuple[float, float]]:
        log = self._spends.setdefault(period, collections.deque())
        while log and log[0][0] <= now - period:
            log.popleft()
        return log

    def record(self, windows: tuple[RateWindow, ...], cost: float, now: float) -> None:
        """Note a spend admitted elsewhere (through Redis)."""
        for window in windows:
            self._log(window.period, now).append((now, cost))

    def start(self, windows: tuple[RateWindow, ...], used: dict[float, float], now: float) -> None:
        """Begin a local period: ``used`` is the whole fleet's spend per window as last seen in Redis
        (a window missing from it counts as full: this process never saw Redis), and this process's
        part of it is taken as spent now, so the fleet stays within the limit while each process
        waits for what it cannot see to expire."""
        for window in windows:
            spent = used.get(window.period, window.limit)
            log = self._spends[window.period] = collections.deque()
            if spent > 0:
                log.append((now, min(window.limit, spent) / self.workers))

    def add_spent(self, windows: tuple[RateWindow, ...], used: dict[float, float], now: float) -> None:
        """Count this process's part of ``used`` (the fleet's spend per window) as spent now, on top of
        its own spends (a loss of Redis learnt after this process already spent through it)."""
        for window in windows:
            spent = used.get(window.period, 0.0)
            if spent > 0:
                self._log(window.period, now).append((now, min(window.limit, spent) / self.workers))

    def reserve(self, windows: tuple[RateWindow, ...], cost: float, now: float) -> float:
        """Admit against ``limit / workers`` of each window (0.0), or the seconds to wait."""
        wait = max(0.0, self._blocked_until - now)
        for window in windows:
            share = window.limit / self.workers
            log = self._log(window.period, now)
            used = sum(c for _, c in log)
            excess = used + cost - share
            if excess > 1e-9:
                if cost > share + 1e-9:
                    # a call bigger than the share still fits once the window is empty of this process's spends
                    excess = used
                freed = 0.0
                for when, spent in log:
                    freed += spent
                    if freed >= excess - 1e-9:
                        wait = max(wait, when + window.period - now)
                        break
        if wait > 0:
            return wait
        self.record(windows, cost, now)
        return 0.0

    def unreserve(self, windows: tuple[RateWindow, ...], cost: float, now: float) -> None:
        """Take back the spend :meth:`reserve` just admitted at ``now`` (the call did not go ahead)."""
        for window in windows:
            log = self._spends.get(window.period)
            if log and log[-1] == (now, cost):
                log.pop()

    def remaining(self, windows: tuple[RateWindow, ...], now: float) -> list[float]:
        return [
            max(0.0, w.limit / self.workers - sum(c for _, c in self._log(w.period, now))) for w in windows
        ]

    def block(self, until: float) -> None:
        self._blocked_until = max(self._blocked_until, until)


class RedisRateLimitBackend:
    """Budgets in Redis, keyed by ``key_prefix`` (connector and credential fingerprint).

    Args:
        url: the Redis URL (``redis://host:6379/0``).
        key_prefix: what the budget belongs to, e.g. ``"alpaca:<fingerprint>"``; never a raw credential.
        client: an existing ``redis.asyncio.Redis`` to use instead of connecting to ``url``.
        workers: the processes sharing this budget; Redis unreachable, each takes ``limit / workers``.
        probe_seconds: how often Redis is tried again while the budget is local.
        on_mode: called with ``"local"`` (and the error) when Redis is lost and ``"shared"`` when it is back.
        timeout: seconds one Redis call may take before it counts as failed.
        confirm_seconds: how long every call must fail before Redis counts as down and the local share
            applies (meanwhile nothing is admitted; an answer from Redis ends it). Before Redis's first
            answer, at least the longest window: the local share of a process that never reached Redis
            starts spent, so a local period would admit nothing sooner.
        retry_seconds: how often Redis is asked again while a failure is being confirmed.
    """

    uses_wall_clock = True

    def __init__(
        self,
        url: str | None = None,
        *,
        key_prefix: str,
        client: Any = None,
        workers: int = 1,
        probe_seconds: float = 2.0,
        on_mode: Callable[[str, str | None], None] | None = None,
        timeout: float = 1.0,
        confirm_seconds: float = 2.0,
        retry_seconds: float = 0.25,
    ) -> None:
        if client is None:
            if url is None:
                raise ValueError("give a Redis url or client")
            import redis.asyncio as redis

            client = redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
            self._owns_client = True
        else:
            self._owns_client = False
        self._redis = client
        # One hash slot for all of a budget's keys, so the script also runs on Redis Cluster.
        self._prefix = f"portico:ratelimit:{{{key_prefix}}}"
        self._reserve = client.register_script(_RESERVE)
        self._block = client.register_script(_BLOCK)
        self._last_remaining: dict[float, float] = {}
        self.local = LocalShare(workers)
        self.mode = "shared"
        self.last_error: str | None = None
        self.probe_seconds = probe_seconds
        self.on_mode = on_mode
        self._probe_at = 0.0
        self._cautious_until = 0.0
        self.confirm_seconds = confirm_seconds
        self.retry_seconds = retry_seconds
        self._failing_since: float | None = None
        self._epoch: float | None = None
        self._epoch_text = ""  # as Redis holds it (compared as a string in the script)
        self._lost_seen: float | None = None  # the epoch whose loss mark this process has taken into account
        self._seen_at = -math.inf

    def __repr__(self) -> str:
        return f"RedisRateLimitBackend(prefix={self._prefix!r}, mode={self.mode!r})"

    def _failed(self, exc: BaseException, now: float, windows: tuple[RateWindow, ...]) -> float | None:
        """A Redis call failed: ``None`` once Redis counts as down (local share), or the wait until the
        next try while that is confirmed (admitting nothing meanwhile)."""
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.mode == "local":
            self._lost(exc, now, windows)
            return None
        if self._failing_since is None:
            self._failing_since = now
        confirm = self.confirm_seconds
        if self._epoch is None:
            # never answered yet (a worker starting on a loaded machine: its first calls time out): a local
            # share would count its whole window as spent (nothing known of the fleet's spends), admitting
            # nothing for a window, as waiting for Redis does; so Redis is asked for up to a window, and an
            # answer meanwhile is the shared budget at once (the soak's orders stalled 60 s at a start)
            confirm = max(confirm, max(w.period for w in windows))
        left = self._failing_since + confirm - now
        if left > 1e-9:
            return min(self.retry_seconds, left)
        self._lost(exc, now, windows)
        return None

    def _lost(self, exc: BaseException, now: float, windows: tuple[RateWindow, ...]) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        failing_since, self._failing_since = self._failing_since, None
        self._probe_at = now + self.probe_seconds
        if self.mode != "local":
            self.mode = "local"
            if self._epoch is None and failing_since is not None:
                # never answered: the window already waited out counts as the unknown spend's
                self.local.start(windows, {}, failing_since)
                if self.on_mode is not None:
                    self.on_mode("local", self.last_error)
                return
            used = {
                w.period: w.limit - self._last_remaining[w.period]
                for w in windows
                if w.period in self._last_remaining
            }
            self.local.start(windows, used, now)
            if self.on_mode is not None:
                self.on_mode("local", self.last_error)

    def _back(self) -> None:
        if self.mode != "shared":
            self.mode = "shared"
            self.last_error = None
            if self.on_mode is not None:
                self.on_mode("shared", None)

    def _keys(self, windows: tuple[RateWindow, ...]) -> list[str]:
        return [f"{self._prefix}:{w.period:g}" for w in windows] + [
            f"{self._prefix}:blocked",
            f"{self._prefix}:epoch",
            f"{self._prefix}:lost",
        ]

    def _epoch_seen(
        self,
        epoch: float,
        lost_until: float,
        lost_used: dict[float, float],
        windows: tuple[RateWindow, ...],
        was_local: bool,
        now: float,
    ) -> bool:
        """Note Redis's epoch; True when this answer begins a cautious period (Redis lost the spends)."""
        known, self._epoch = self._epoch, epoch
        if known is not None and known == epoch and lost_until > now and self._lost_seen != epoch:
            # this process reached the emptied Redis before the first process to see the loss marked it
            # (a worker restarted during the outage, up just as Redis came back): what it spent since is in
            # its local log, and its part of the fleet's spend counts on top, until the mark ends
            self._lost_seen = epoch
            self.local.add_spent(windows, lost_used, now)
            self._cautious_until = max(self._cautious_until, lost_until)
            return True
        if lost_until > now or (known is not None and known != epoch):
            self._lost_seen = epoch  # this loss is accounted for (below): once per epoch
        if known is None and lost_until > now:
            # a process starting while Redis is known to have lost the window's spends (another process
            # saw the epoch change): the fleet's spend as the processes that saw the loss last knew it
            # (the most any of them saw) counts as spent, its part per process, as everywhere else
            self.local.start(windows, lost_used, now)
            self._cautious_until = max(self._cautious_until, lost_until)
            return True
        if was_local or known is None or known == epoch:
            # a first answer with no loss recorded is a fleet starting: trusted
            return False
        # Redis lost the spends while this process was not calling (no failure seen, so no local period):
        # the others may be spending local shares, and Redis knows none of it. As at the start of a local
        # period, the fleet's spend last seen here counts as spent now (a part per process), and for one
        # longest window each call must fit both Redis and the share
        longest = max(w.period for w in windows)
        seen = now - self._seen_at < longest
        used = {
            w.period: w.limit - self._last_remaining[w.period]
            for w in windows
            if seen and w.period in self._last_remaining
        }
        self.local.start(windows, {w.period: used.get(w.period, 0.0) for w in windows}, now)
        self._cautious_until = max(self._cautious_until, now + longest + 2 * self.probe_seconds)
        return True

    async def reserve(self, windows: tuple[RateWindow, ...], cost: float, now: float) -> float:
        if self.mode == "local" and now < self._probe_at:
            # a caller told to wait comes back by the probe time at the latest: Redis may be back
            return min(self.local.reserve(windows, cost, now), self._probe_at - now)
        cautious = now < self._cautious_until
        if cautious:
            # back from local: Redis (restarted empty, or reached before the other processes noticed)
            # does not know what was spent locally in the last window, so the local share still binds
            wait = self.local.reserve(windows, cost, now)
            if wait > 0:
                return wait
        args: list[Any] = [repr(now), repr(float(cost)), uuid.uuid4().hex]
        for window in windows:
            args += [repr(float(window.limit)), repr(float(window.period))]
        longest = max(w.period for w in windows)
        args += ["" if self._epoch is None else self._epoch_text, repr(longest + 2 * self.probe_seconds)]
        # the fleet's spend as last seen here (0 when not seen within a window): should this answer find
        # Redis emptied, it is left for the processes starting meanwhile
        recent = now - self._seen_at < longest
        args += [
            repr(
                w.limit - self._last_remaining[w.period]
                if recent and w.period in self._last_remaining
                else 0.0
            )
            for w in windows
        ]
        try:
            result = await self._reserve(keys=self._keys(windows), args=args)
        except _UNREACHABLE as exc:
            was_local = self.mode == "local"
            confirming = self._failed(exc, now, windows)
            if confirming is not None:
                if cautious:
                    self.local.unreserve(windows, cost, now)
                return confirming
            if cautious and was_local:
                return 0.0  # admitted by the local share above, and still in it
            # a local period began just now (its share replaced what was spent locally): ask it afresh
            return min(self.local.reserve(windows, cost, now), self._probe_at - now)
        self._failing_since = None
        was_local = self.mode == "local"
        if was_local:
            self._cautious_until = now + max(w.period for w in windows) + 2 * self.probe_seconds
            self._back()
        values = [float(v) for v in result]
        # before this answer's remaining replaces the last seen: a changed epoch needs what was seen before
        n = len(windows)
        text = result[2 + n]
        self._epoch_text = str(text.decode() if isinstance(text, bytes) else text)
        lost_used = {w.period: values[4 + n + i] for i, w in enumerate(windows)}
        turned_cautious = self._epoch_seen(values[2 + n], values[3 + n], lost_used, windows, was_local, now)
        for window, left in zip(windows, values[2 : 2 + n], strict=True):
            self._last_remaining[window.period] = max(0.0, left)
        self._seen_at = now
        if values[0] == 1.0:
            if turned_cautious:
                # found out with this answer: the call must fit the share as well, or is taken back
                wait = self.local.reserve(windows, cost, now)
                if wait > 0:
                    await self._unspend(windows, args[2], cost)
                    return wait
            elif not cautious:
                self.local.record(windows, cost, now)
            return 0.0
        return values[1]

    async def _unspend(self, windows: tuple[RateWindow, ...], member: str, cost: float) -> None:
        """Take back a spend the script recorded (member ``"<cost>:<id>"`` in every window)."""
        spent = f"{float(cost)!r}:{member}"
        try:
            for key in self._keys(windows)[: len(windows)]:
                await self._redis.zrem(key, spent)
        except _UNREACHABLE as exc:
            # left in Redis it only counts against the budget: conservative
            self.last_error = f"{type(exc).__name__}: {exc}"

    def remaining(self, windows: tuple[RateWindow, ...], now: float) -> list[float]:
        """The budget left in each window as of this process's last call (others may have spent since)."""
        if self.mode == "local":
            return self.local.remaining(windows, now)
        return [self._last_remaining.get(w.period, w.limit) for w in windows]

    async def block(self, now: float, seconds: float) -> None:
        self.local.block(now + seconds)
        if self.mode == "local" and now < self._probe_at:
            return
        try:
            await self._block(keys=[f"{self._prefix}:blocked"], args=[repr(now + seconds), repr(seconds)])
        except _UNREACHABLE as exc:
            # the block holds locally; the next reserve finds Redis gone and turns the budget local
            self.last_error = f"{type(exc).__name__}: {exc}"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()
