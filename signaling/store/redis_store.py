"""Multi-process state in Redis, with a per-process heartbeat so a dead process leaves no ghosts.

Every process records which members and connections it holds in its own instance sets and keeps
an `alive` key with a TTL. Each process periodically looks for instances whose `alive` key has
expired; the one that wins the SREM from the instance registry removes that instance's entries
and announces the departures. An SFU room belongs to the process that created it (its media lives
there): joins through another process are refused with `conflict`. After an outage a process re-syncs its instance sets with what it
really holds (adding back what was reaped meanwhile, removing what left while Redis was away).
Chat de-duplication ids live as long as their message stays in the history (`:chatkeys` lists them
in step with `:chat`). The live processes' public URLs are kept as `peer_origins`, for CORS.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from sfu.config import origin_of
from signaling.errors import SignalingError
from signaling.logs import log_event
from signaling.store import Message, Participant, StoreHooks, User

log = logging.getLogger("signaling.store")

_JOIN = """
local topo = redis.call('HGET', KEYS[1], 'topology')
if not topo then topo = ARGV[4]; redis.call('HSET', KEYS[1], 'topology', topo, 'owner', ARGV[8]) end
if topo == 'sfu' and ARGV[9] == '1' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[8] then
  return {'elsewhere', topo, 0}
end
local new = 0
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then
  local cap = tonumber(topo == 'mesh' and ARGV[5] or ARGV[6])
  if redis.call('HLEN', KEYS[2]) >= cap then
    if redis.call('HLEN', KEYS[2]) == 0 then redis.call('DEL', KEYS[1]) end
    return {'full', topo, 0}
  end
  new = 1
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[7])
return {'ok', topo, new}
"""

_LEAVE = """
redis.call('SREM', KEYS[4], ARGV[3])
local p = redis.call('HGET', KEYS[2], ARGV[2])
if not p then return false end
redis.call('HDEL', KEYS[2], ARGV[2])
if redis.call('HLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[5], KEYS[6], KEYS[7])
  redis.call('SREM', KEYS[3], ARGV[1])
end
return p
"""

_SAVE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""

_ADD_CONN = """
redis.call('SADD', KEYS[3], ARGV[4])
local added = redis.call('SADD', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if added == 1 and redis.call('SCARD', KEYS[2]) == 1 then return 1 end
return 0
"""

_REMOVE_CONN = """
redis.call('SREM', KEYS[3], ARGV[3])
local removed = redis.call('SREM', KEYS[2], ARGV[2])
if removed == 1 and redis.call('SCARD', KEYS[2]) == 0 then
  local u = redis.call('HGET', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[1], ARGV[1])
  return u or false
end
return false
"""

_CHAT = """
if redis.call('EXISTS', KEYS[3]) == 0 then return {1, ARGV[2]} end
if ARGV[1] ~= '' then
  local prev = redis.call('HGET', KEYS[2], ARGV[1])
  if prev then return {0, prev} end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
redis.call('RPUSH', KEYS[4], ARGV[1])
local extra = redis.call('LLEN', KEYS[4]) - tonumber(ARGV[3])
if extra > 0 then
  local gone = redis.call('LRANGE', KEYS[4], 0, extra - 1)
  redis.call('LTRIM', KEYS[4], extra, -1)
  for _, key in ipairs(gone) do
    if key ~= '' then redis.call('HDEL', KEYS[2], key) end
  end
end
return {1, ARGV[2]}
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class RedisStore:
    def __init__(self, url: str, prefix: str, instance_id: str, heartbeat_ttl: float,
                 heartbeat_interval: float, public_url: str = "") -> None:
        self.prefix = prefix
        self.public_url = public_url  # where clients reach this process: sent to joins of rooms it owns
        self.instance_id = instance_id
        self.ttl_ms = max(1000, int(heartbeat_ttl * 1000))
        self.interval = max(0.2, min(heartbeat_interval, heartbeat_ttl / 3))
        self.redis = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 0), health_check_interval=0,
        )
        self._join = self.redis.register_script(_JOIN)
        self._leave = self.redis.register_script(_LEAVE)
        self._save = self.redis.register_script(_SAVE)
        self._add_conn = self.redis.register_script(_ADD_CONN)
        self._remove_conn = self.redis.register_script(_REMOVE_CONN)
        self._chat = self.redis.register_script(_CHAT)
        self._healthy = True
        self._needs_sync = False
        own = origin_of(public_url) if public_url else None
        self._peer_origins: frozenset[str] = frozenset({own} if own else ())
        self._peers_task: asyncio.Task[None] | None = None
        self._peers_read_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._hooks: StoreHooks | None = None

    # keys -----------------------------------------------------------------------------------
    def _room(self, room_id: str, part: str = "") -> str:
        return f"{self.prefix}room:{room_id}{part}"

    def _inst(self, instance_id: str, part: str) -> str:
        return f"{self.prefix}inst:{instance_id}:{part}"

    def _room_keys(self, room_id: str, instance_id: str) -> list[str]:
        return [self._room(room_id), self._room(room_id, ":members"), f"{self.prefix}rooms",
                self._inst(instance_id, "members"), self._room(room_id, ":chat"), self._room(room_id, ":chatids"),
                self._room(room_id, ":chatkeys")]

    def _conn_keys(self, user_id: str, instance_id: str) -> list[str]:
        return [f"{self.prefix}users", f"{self.prefix}user:{user_id}:conns", self._inst(instance_id, "conns")]

    async def _smembers(self, key: str) -> set[str]:
        # decode_responses=True: redis-py returns str, though its annotations say bytes | str
        return cast(set[str], await self.redis.smembers(key))

    # health and heartbeat --------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def peer_origins(self) -> frozenset[str]:
        return self._peer_origins

    def refresh_peer_origins(self) -> None:
        """Re-read the live processes' URLs now (at most once a second): an origin not yet known may
        be a process that started after the last heartbeat. The client's retry then finds it."""
        if self._peers_task is not None or time.monotonic() - self._peers_read_at < 1.0:
            return
        self._peers_read_at = time.monotonic()

        async def read() -> None:
            try:
                own = origin_of(self.public_url) if self.public_url else None
                origins = {own} if own else set()
                for other in await self._smembers(f"{self.prefix}instances"):
                    url = await self.redis.get(self._inst(other, "alive"))
                    peer = origin_of(str(url)) if url else None
                    if peer:
                        origins.add(peer)
                self._peer_origins = frozenset(origins)
            except (RedisError, OSError):
                self.mark_unhealthy()
            finally:
                self._peers_task = None

        self._peers_task = asyncio.get_running_loop().create_task(read())

    def mark_unhealthy(self) -> None:
        if self._healthy:
            log_event(log, "redis_unavailable", logging.WARNING, instance=self.instance_id)
        self._healthy = False
        self._needs_sync = True

    async def start(self, hooks: StoreHooks) -> None:
        self._hooks = hooks
        try:
            await self._beat()
        except (RedisError, OSError):
            self.mark_unhealthy()
        self._task = asyncio.create_task(self._run(), name="redis-heartbeat")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:  # a clean stop: withdraw this instance at once instead of waiting for the TTL
            await self.redis.delete(self._inst(self.instance_id, "alive"))
        except (RedisError, OSError):
            pass
        await self.redis.aclose()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._beat()
            except (RedisError, OSError):
                self.mark_unhealthy()
            except Exception:  # a bug must not stop the heartbeat
                log.exception("heartbeat failed")

    async def _beat(self) -> None:
        # the alive key holds this process's public URL, so other processes can send clients here
        await self.redis.set(self._inst(self.instance_id, "alive"), self.public_url or "1", px=self.ttl_ms)
        registered = await self.redis.sadd(f"{self.prefix}instances", self.instance_id)
        # Not registered: first beat, an emptied Redis, or another process reaped us while this one
        # was stalled past the TTL. In each case put back what this process really holds.
        if registered or self._needs_sync:
            await self._resync()
            self._needs_sync = False
        if not self._healthy:
            log_event(log, "redis_recovered", instance=self.instance_id)
            self._healthy = True
        await self._reap()

    async def _reap(self) -> None:
        assert self._hooks is not None
        own = origin_of(self.public_url) if self.public_url else None
        origins = {own} if own else set()
        for other in await self._smembers(f"{self.prefix}instances"):
            if other == self.instance_id:
                continue
            url = await self.redis.get(self._inst(other, "alive"))
            if url is not None:
                peer = origin_of(str(url))
                if peer:
                    origins.add(peer)
                continue
            if await self.redis.srem(f"{self.prefix}instances", other) != 1:
                continue  # another process is reaping it
            log_event(log, "reap_instance", logging.WARNING, instance=other)
            for entry in await self._smembers(self._inst(other, "members")):
                room_id, _, pid = entry.partition(" ")
                gone = await self._leave_for(room_id, pid, other)
                if gone is not None:
                    await self._hooks.ghost_left(room_id, gone)
            for entry in await self._smembers(self._inst(other, "conns")):
                sid, _, user_id = entry.partition(" ")
                user = await self._remove_for(user_id, sid, other)
                if user is not None:
                    await self._hooks.ghost_offline(user)
            await self.redis.delete(self._inst(other, "members"), self._inst(other, "conns"))
        self._peer_origins = frozenset(origins)

    async def _resync(self) -> None:
        """Make this instance's entries in Redis match what the process really holds."""
        assert self._hooks is not None
        members, conns = self._hooks.local_state()
        held_members = {f"{room_id} {p['participantId']}": (room_id, topo, p) for room_id, topo, p in members}
        held_conns = {f"{sid} {user['userId']}": (user, sid) for user, sid in conns}
        for entry in await self._smembers(self._inst(self.instance_id, "members")):
            if entry not in held_members:
                room_id, _, pid = entry.partition(" ")
                gone = await self._leave_for(room_id, pid, self.instance_id)
                if gone is not None:
                    await self._hooks.ghost_left(room_id, gone)
        for entry in await self._smembers(self._inst(self.instance_id, "conns")):
            if entry not in held_conns:
                sid, _, user_id = entry.partition(" ")
                user = await self._remove_for(user_id, sid, self.instance_id)
                if user is not None:
                    await self._hooks.ghost_offline(user)
        for room_id, topology, participant in held_members.values():
            _status, _topo, new = await self._join_raw(room_id, participant, topology, {"mesh": 10**6, "sfu": 10**6},
                                                       check_owner=False)
            if new:
                await self._hooks.revived_joined(room_id, participant)
        for user, sid in held_conns.values():
            if await self.add_connection(user, sid):
                await self._hooks.revived_online(user, sid)
        log_event(log, "redis_resynced", instance=self.instance_id, members=len(held_members),
                  connections=len(held_conns))

    # rooms -----------------------------------------------------------------------------------
    async def _join_raw(self, room_id: str, participant: Participant, topology: str,
                        capacity: Mapping[str, int], check_owner: bool = True) -> tuple[str, str, int]:
        pid = participant["participantId"]
        status, topo, new = await self._join(
            keys=self._room_keys(room_id, self.instance_id)[:4],
            args=[room_id, pid, _dumps(participant), topology, capacity["mesh"], capacity["sfu"],
                  f"{room_id} {pid}", self.instance_id, "1" if check_owner else "0"],
        )
        return status, topo, int(new)

    async def join_room(
        self, room_id: str, participant: Participant, topology: str, capacity: Mapping[str, int]
    ) -> tuple[str, list[Participant]]:
        status, topo, _new = await self._join_raw(room_id, participant, topology, capacity)
        if status == "full":
            raise SignalingError("room_full", f"room is full ({capacity[topo]} participants)")
        if status == "elsewhere":
            # An SFU room's media lives in one process; splitting it would hide members from each other.
            # The owner's public URL (from its heartbeat) tells the client where to connect instead.
            owner = await self.redis.hget(self._room(room_id), "owner")
            url = await self.redis.get(self._inst(str(owner), "alive")) if owner else None
            details = {"redirect": str(url)} if url and url != "1" else {}
            raise SignalingError("conflict", "this sfu room is served by another server process; connect there",
                                 **details)
        others = [p for p in await self.participants(room_id) if p["participantId"] != participant["participantId"]]
        return topo, others

    async def _leave_for(self, room_id: str, participant_id: str, instance_id: str) -> Participant | None:
        raw = await self._leave(keys=self._room_keys(room_id, instance_id),
                                args=[room_id, participant_id, f"{room_id} {participant_id}"])
        return json.loads(raw) if raw else None

    async def leave_room(self, room_id: str, participant_id: str) -> Participant | None:
        return await self._leave_for(room_id, participant_id, self.instance_id)

    async def room_topology(self, room_id: str) -> str | None:
        return cast(str | None, await self.redis.hget(self._room(room_id), "topology"))

    async def participants(self, room_id: str) -> list[Participant]:
        found = await self.redis.hgetall(self._room(room_id, ":members"))
        return sorted((json.loads(v) for v in found.values()), key=lambda p: (p["joinedAt"], p["participantId"]))

    async def get_participant(self, room_id: str, participant_id: str) -> Participant | None:
        raw = await self.redis.hget(self._room(room_id, ":members"), participant_id)
        return json.loads(raw) if raw else None

    async def save_participant(self, room_id: str, participant: Participant) -> None:
        await self._save(keys=[self._room(room_id, ":members")],
                         args=[participant["participantId"], _dumps(participant)])

    # presence --------------------------------------------------------------------------------
    async def add_connection(self, user: User, sid: str) -> bool:
        first = await self._add_conn(keys=self._conn_keys(user["userId"], self.instance_id),
                                     args=[user["userId"], _dumps(user), sid, f"{sid} {user['userId']}"])
        return bool(first)

    async def _remove_for(self, user_id: str, sid: str, instance_id: str) -> User | None:
        raw = await self._remove_conn(keys=self._conn_keys(user_id, instance_id),
                                      args=[user_id, sid, f"{sid} {user_id}"])
        return json.loads(raw) if raw else None

    async def remove_connection(self, user_id: str, sid: str) -> User | None:
        return await self._remove_for(user_id, sid, self.instance_id)

    async def online_users(self) -> list[User]:
        return [json.loads(v) for v in (await self.redis.hgetall(f"{self.prefix}users")).values()]

    # chat ------------------------------------------------------------------------------------
    async def chat_append(
        self, room_id: str, dedupe_key: str | None, message: Message, limit: int
    ) -> tuple[Message, bool]:
        new, raw = await self._chat(
            keys=[self._room(room_id, ":chat"), self._room(room_id, ":chatids"), self._room(room_id, ":members"),
                  self._room(room_id, ":chatkeys")],
            args=[dedupe_key or "", _dumps(message), limit],
        )
        return json.loads(raw), bool(new)

    async def chat_history(self, room_id: str, limit: int) -> list[Message]:
        return [json.loads(v) for v in await self.redis.lrange(self._room(room_id, ":chat"), -limit, -1)]
