-- fuzz harness: socket options, named and raw (csrc/options.c).
-- Every setopt/getopt either works or returns nil, msg, code, or raises
-- a Lua error for a bad argument; nothing crashes and no descriptor
-- leaks. Options that would reach the network (multicast membership,
-- interface selection) are left out: loopback only.
local core = require "lunasock.core"
local F = require "fuzzlib"

local NAMES = {
  "reuseaddr", "reuseport", "keepalive", "linger", "rcvbuf", "sndbuf",
  "rcvlowat", "sndlowat", "rcvtimeo", "sndtimeo", "broadcast", "oobinline",
  "dontroute", "priority", "peek_off", "passcred", "timestamp", "error",
  "type", "acceptconn", "domain", "protocol", "nodelay", "cork",
  "keepidle", "keepintvl", "keepcnt", "maxseg", "quickack", "user_timeout",
  "defer_accept", "notsent_lowat", "congestion", "ttl", "tos", "recverr",
  "pktinfo", "v6only", "multicast_ttl", "multicast_loop", "nosuchoption",
}
-- raw (level, optname) pairs: the same options by number
local RAW = {
  {"SOL_SOCKET", "SO_REUSEADDR"}, {"SOL_SOCKET", "SO_LINGER"},
  {"SOL_SOCKET", "SO_RCVBUF"}, {"SOL_SOCKET", "SO_SNDTIMEO"},
  {"SOL_SOCKET", "SO_TYPE"}, {"SOL_SOCKET", "SO_ERROR"},
  {"IPPROTO_TCP", "TCP_NODELAY"}, {"IPPROTO_TCP", "TCP_MAXSEG"},
  {"IPPROTO_TCP", "TCP_CONGESTION"}, {"IPPROTO_IP", "IP_TTL"},
  {"IPPROTO_IP", "IP_TOS"}, {"IPPROTO_IPV6", "IPV6_V6ONLY"},
}
local FAMILIES = {"inet", "inet6", "unix"}
local TYPES = {"stream", "dgram"}

local function value(r)
  local kind = r.int(0, 9)
  if kind == 0 then return r.byte() % 2 == 0 end
  if kind == 1 then return r.int(-70000, 70000) end
  if kind == 2 then return math.maxinteger - r.byte() end
  if kind == 3 then return math.mininteger + r.byte() end
  if kind == 4 then return ({0 / 0, math.huge, -math.huge, 0.5, 1e10, -0.0})[r.int(1, 6)] end
  if kind == 5 then return r.take(r.int(0, 40)) end
  if kind == 6 then return {on = r.byte() % 2 == 0, timeout = r.int(-5, 70000)} end
  if kind == 7 then return nil end
  if kind == 8 then return {} end
  return ({"reno", "cubic", "", "x", string.rep("y", 300)})[r.int(1, 5)]
end

local function try(fn, ...)
  local ok, a, b, c = pcall(fn, ...)
  if ok and a == nil then
    F.check(type(b) == "string" and type(c) == "string", "error triple without code")
  end
end

return function(data)
  local r = F.reader(data)
  local before = F.fd_count()
  local s = core.socket(FAMILIES[r.int(1, 3)], TYPES[r.int(1, 2)])
  if not s then return end
  local steps = 0
  while r.left() > 0 and steps < 32 do
    steps = steps + 1
    local op = r.int(0, 3)
    if op == 0 then
      try(s.setopt, s, NAMES[r.int(1, #NAMES)], value(r))
    elseif op == 1 then
      try(s.getopt, s, NAMES[r.int(1, #NAMES)])
    elseif op == 2 then
      local pair = RAW[r.int(1, #RAW)]
      local level, name = core[pair[1]], core[pair[2]]
      if level and name then try(s.setopt, s, level, name, value(r)) end
    else
      local pair = RAW[r.int(1, #RAW)]
      local level, name = core[pair[1]], core[pair[2]]
      if level and name then try(s.getopt, s, level, name, r.int(-2, 300)) end
    end
  end
  s:close()
  F.check(F.fd_count() == before, "descriptor leak")
end
