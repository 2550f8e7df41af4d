"""Rate-limit budgets in Redis, shared by every process that uses one API key.

Each window is a sorted set of spends scored by wall-clock time (members ``"<cost>:<uuid>"``). One Lua
script expires old spends, checks every window and records the spend in all of them atomically, so two
processes can never both take the last token. Keys are named after the connector and a fingerprint of the
credentials (:func:`~portico.http.credential_fingerprint`), never the key itself, and expire on their own
once idle.
"""

from __future__ import annotations

import uuid
from typing import Any

from portico.sdk import RateWindow

__all__ = ["RedisRateLimitBackend"]

# KEYS: one sorted set per window, then the "blocked until" key.
# ARGV: now, cost, member id, then limit and period for each window.
# Returns {admitted (1/0), wait seconds, remaining per window...} as strings (Lua numbers would be truncated).
_RESERVE = """
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local member = ARGV[3]
local n = #KEYS - 1
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


class RedisRateLimitBackend:
    """Budgets in Redis, keyed by ``key_prefix`` (connector and credential fingerprint).

    Args:
        url: the Redis URL (``redis://host:6379/0``).
        key_prefix: what the budget belongs to, e.g. ``"alpaca:<fingerprint>"``; never a raw credential.
        client: an existing ``redis.asyncio.Redis`` to use instead of connecting to ``url``.
    """

    uses_wall_clock = True

    def __init__(self, url: str | None = None, *, key_prefix: str, client: Any = None) -> None:
        if client is None:
            if url is None:
                raise ValueError("give a Redis url or client")
            import redis.asyncio as redis

            client = redis.from_url(url)
            self._owns_client = True
        else:
            self._owns_client = False
        self._redis = client
        # One hash slot for all of a budget's keys, so the script also runs on Redis Cluster.
        self._prefix = f"portico:ratelimit:{{{key_prefix}}}"
        self._reserve = client.register_script(_RESERVE)
        self._block = client.register_script(_BLOCK)
        self._last_remaining: dict[float, float] = {}

    def __repr__(self) -> str:
        return f"RedisRateLimitBackend(prefix={self._prefix!r})"

    def _keys(self, windows: tuple[RateWindow, ...]) -> list[str]:
        return [f"{self._prefix}:{w.period:g}" for w in windows] + [f"{self._prefix}:blocked"]

    async def reserve(self, windows: tuple[RateWindow, ...], cost: float, now: float) -> float:
        args: list[Any] = [repr(now), repr(float(cost)), uuid.uuid4().hex]
        for window in windows:
            args += [repr(float(window.limit)), repr(float(window.period))]
        result = await self._reserve(keys=self._keys(windows), args=args)
        values = [float(v) for v in result]
        for window, left in zip(windows, values[2:], strict=True):
            self._last_remaining[window.period] = max(0.0, left)
        return 0.0 if values[0] == 1.0 else values[1]

    def remaining(self, windows: tuple[RateWindow, ...], now: float) -> list[float]:
        """The budget left in each window as of this process's last call (others may have spent since)."""
        return [self._last_remaining.get(w.period, w.limit) for w in windows]

    async def block(self, now: float, seconds: float) -> None:
        await self._block(keys=[f"{self._prefix}:blocked"], args=[repr(now + seconds), repr(seconds)])

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()
