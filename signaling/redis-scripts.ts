/**
 * The Redis side of the shared hub, as Lua scripts: each runs atomically, so joins, leaves and relays
 * from any number of instances apply in one order, and every event gets the next sequence number of
 * its session. Key layout (all under the configured prefix P):
 *   s:<session>   hash  epoch, seq, away           sp:<session>  set of the session's peers
 *   ev:<session>  stream of events, id "<seq>-1", fields t (type) and d (JSON data)
 *   p:<peer>      hash  room, session, meta?, addr? r:<room>     hash  peer -> 1
 *   rv:<room>     string the verifier digest the room's first joiner registered (gone with the room)
 *   sessions, rooms, peers: sets, for counts       deadlines     zset  session -> ms when it ends unless its stream comes back
 *   n:<nonce>     hash  a join ticket (redis-tickets.ts owns it and its scripts)
 * Events are published on ch:<session> as "<seq>|<epoch>|<type>|<json>" for the instance holding that
 * stream. Redis keeps events as data: sse.ts alone writes SSE framing. The JSON built here is the same
 * as hub.ts's `eventData` writes, byte for byte (the contract suite checks it against both hubs).
 */

const PRELUDE = `
local P = ARGV[1]
local MAXLEN = tonumber(ARGV[2])
local RETENTION = tonumber(ARGV[3])

local function info(peer)
  local meta = redis.call('HGET', P .. 'p:' .. peer, 'meta')
  if meta then return '{"id":"' .. peer .. '","meta":' .. cjson.encode(meta) .. '}' end
  return '{"id":"' .. peer .. '"}'
end

local function emit(sid, etype, json)
  local skey = P .. 's:' .. sid
  local epoch = redis.call('HGET', skey, 'epoch')
  if not epoch then return end
  local seq = redis.call('HINCRBY', skey, 'seq', 1)
  local ev = P .. 'ev:' .. sid
  redis.call('XADD', ev, 'MAXLEN', '~', MAXLEN, seq .. '-1', 't', etype, 'd', json)
  redis.call('PEXPIRE', ev, RETENTION)
  redis.call('PUBLISH', P .. 'ch:' .. sid, seq .. '|' .. epoch .. '|' .. etype .. '|' .. json)
end

local function broadcast(room, except, etype, rest)
  for _, peer in ipairs(redis.call('HKEYS', P .. 'r:' .. room)) do
    if peer ~= except then
      emit(redis.call('HGET', P .. 'p:' .. peer, 'session'), etype, '{"to":"' .. peer .. '"' .. rest)
    end
  end
end

local function removePeer(peer, reason)
  local pkey = P .. 'p:' .. peer
  local room = redis.call('HGET', pkey, 'room')
  if not room then return 0 end
  local sid = redis.call('HGET', pkey, 'session')
  redis.call('HDEL', P .. 'r:' .. room, peer)
  redis.call('SREM', P .. 'sp:' .. sid, peer)
  redis.call('SREM', P .. 'peers', peer)
  redis.call('DEL', pkey)
  broadcast(room, peer, 'peer-left', ',"peer":"' .. peer .. '","reason":"' .. reason .. '"}')
  if redis.call('HLEN', P .. 'r:' .. room) == 0 then
    redis.call('SREM', P .. 'rooms', room)
    redis.call('DEL', P .. 'rv:' .. room)
  end
  return 1
end

local function destroy(sid, reason)
  local left = 0
  for _, peer in ipairs(redis.call('SMEMBERS', P .. 'sp:' .. sid)) do left = left + removePeer(peer, reason) end
  redis.call('DEL', P .. 's:' .. sid, P .. 'sp:' .. sid, P .. 'ev:' .. sid)
  redis.call('ZREM', P .. 'deadlines', sid)
  redis.call('SREM', P .. 'sessions', sid)
  redis.call('PUBLISH', P .. 'ch:' .. sid, '!close')
  return left
end

local function ensure(sid, epoch, deadline)
  local skey = P .. 's:' .. sid
  if redis.call('EXISTS', skey) == 1 then return 0 end
  redis.call('HSET', skey, 'epoch', epoch, 'seq', 0, 'away', 0)
  redis.call('SADD', P .. 'sessions', sid)
  redis.call('ZADD', P .. 'deadlines', deadline, sid)
  return 1
end
`

/**
 * ARGV 4..: session, room, reclaim ('' for none), new peer id, meta ('' plus hasMeta 0), hasMeta, maxRoom,
 * maxSession, epoch, deadline, verifier digest ('' for none), address ('' for none), maxSeatsSession,
 * maxSeatsAddress. The verifier digests are compared as plain strings: they are SHA-256 outputs, so
 * timing reveals nothing about a verifier.
 */
export const JOIN = `${PRELUDE}
local sid, room, reclaim, newPeer, meta, hasMeta = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local maxRoom, maxSession = tonumber(ARGV[10]), tonumber(ARGV[11])
local verifier, addr = ARGV[14], ARGV[15]
local maxSeatsSession, maxSeatsAddr = tonumber(ARGV[16]), tonumber(ARGV[17])
local isNew = ensure(sid, ARGV[12], tonumber(ARGV[13]))
local function fail(code)
  if isNew == 1 then destroy(sid, 'leave') end
  return {'', code}
end
local self = nil
if reclaim ~= '' and redis.call('EXISTS', P .. 'p:' .. reclaim) == 1 then
  local owner = redis.call('HMGET', P .. 'p:' .. reclaim, 'session', 'room')
  if owner[1] ~= sid or owner[2] ~= room then return fail('BAD_PEER') end
  self = reclaim
  if hasMeta == '1' then redis.call('HSET', P .. 'p:' .. self, 'meta', meta) else redis.call('HDEL', P .. 'p:' .. self, 'meta') end
else
  if redis.call('SCARD', P .. 'sp:' .. sid) >= maxSession then return fail('TOO_MANY_PEERS') end
  local members = redis.call('HKEYS', P .. 'r:' .. room)
  if #members == 0 then
    if verifier ~= '' then redis.call('SET', P .. 'rv:' .. room, verifier) else redis.call('DEL', P .. 'rv:' .. room) end
  else
    local registered = redis.call('GET', P .. 'rv:' .. room)
    if registered and registered ~= verifier then return fail('BAD_VERIFIER') end
    local ofSession, ofAddr = 0, 0
    for _, peer in ipairs(members) do
      local owner = redis.call('HMGET', P .. 'p:' .. peer, 'session', 'addr')
      if owner[1] == sid then ofSession = ofSession + 1 end
      if addr ~= '' and owner[2] == addr then ofAddr = ofAddr + 1 end
    end
    if ofSession >= maxSeatsSession or ofAddr >= maxSeatsAddr then return fail('TOO_MANY_SEATS') end
    if #members >= maxRoom then return fail('ROOM_FULL') end
  end
  if reclaim ~= '' then self = reclaim else self = newPeer end
  redis.call('HSET', P .. 'p:' .. self, 'room', room, 'session', sid)
  if addr ~= '' then redis.call('HSET', P .. 'p:' .. self, 'addr', addr) end
  if hasMeta == '1' then redis.call('HSET', P .. 'p:' .. self, 'meta', meta) end
  broadcast(room, self, 'peer-joined', ',"peer":' .. info(self) .. '}')
  redis.call('HSET', P .. 'r:' .. room, self, 1)
  redis.call('SADD', P .. 'rooms', room)
  redis.call('SADD', P .. 'sp:' .. sid, self)
  redis.call('SADD', P .. 'peers', self)
end
local others = {}
for _, peer in ipairs(redis.call('HKEYS', P .. 'r:' .. room)) do
  if peer ~= self then table.insert(others, info(peer)) end
end
local roster = '[' .. table.concat(others, ',') .. ']'
emit(sid, 'roster', '{"to":"' .. self .. '","room":"' .. room .. '","peers":' .. roster .. '}')
return {self, roster}
`

/** ARGV 4..: session, from, to, data (JSON text) */
export const RELAY = `${PRELUDE}
local sid, from, to, data = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local sender = redis.call('HMGET', P .. 'p:' .. from, 'session', 'room')
if sender[1] ~= sid then return 'NOT_YOUR_PEER' end
local target = redis.call('HMGET', P .. 'p:' .. to, 'session', 'room')
if not target[1] then return 'UNKNOWN_PEER' end
if target[2] ~= sender[2] then return 'NOT_IN_ROOM' end
emit(target[1], 'signal', '{"to":"' .. to .. '","from":"' .. from .. '","data":' .. data .. '}')
return 'OK'
`

/** ARGV 4..: session, peer ('' for the whole session). Returns how many peers left. */
export const LEAVE = `${PRELUDE}
local sid, peer = ARGV[4], ARGV[5]
if redis.call('EXISTS', P .. 's:' .. sid) == 0 then return 0 end
if peer == '' then return destroy(sid, 'leave') end
if redis.call('HGET', P .. 'p:' .. peer, 'session') ~= sid then return 0 end
return removePeer(peer, 'leave')
`

/** ARGV 4..: session, now. Ends the session if its deadline has passed (one instance wins). */
export const EXPIRE = `${PRELUDE}
local sid, now = ARGV[4], tonumber(ARGV[5])
local deadline = redis.call('ZSCORE', P .. 'deadlines', sid)
if not deadline or tonumber(deadline) > now then return -1 end
return destroy(sid, 'timeout')
`

/**
 * ARGV 4..: session, epoch for a new one, deadline, away (1: stream lost, 0: attached).
 * Marks the session's stream as lost or attached, telling its rooms on a change; returns
 * {isNew, epoch, seq, first retained seq or 0, hint sent 0/1}.
 */
export const PRESENCE = `${PRELUDE}
local sid, away = ARGV[4], ARGV[7]
local isNew = ensure(sid, ARGV[5], tonumber(ARGV[6]))
local skey = P .. 's:' .. sid
redis.call('ZADD', P .. 'deadlines', tonumber(ARGV[6]), sid)
local hinted = 0
if redis.call('HGET', skey, 'away') ~= away then
  redis.call('HSET', skey, 'away', away)
  local etype = 'peer-back'
  if away == '1' then etype = 'peer-away' end
  for _, peer in ipairs(redis.call('SMEMBERS', P .. 'sp:' .. sid)) do
    broadcast(redis.call('HGET', P .. 'p:' .. peer, 'room'), peer, etype, ',"peer":"' .. peer .. '"}')
  end
  hinted = 1
end
local first = redis.call('XRANGE', P .. 'ev:' .. sid, '-', '+', 'COUNT', 1)
local firstSeq = 0
if #first > 0 then firstSeq = tonumber(string.match(first[1][1], '^(%d+)')) end
local fields = redis.call('HMGET', skey, 'epoch', 'seq')
return {isNew, fields[1], tonumber(fields[2]), firstSeq, hinted}
`

/** ARGV 4..: session, type, JSON data. Appends one event to a session (used for `reset`). */
export const EMIT = `${PRELUDE}
emit(ARGV[4], ARGV[5], ARGV[6])
return 1
`
