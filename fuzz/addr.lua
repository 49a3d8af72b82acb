-- fuzz harness: address conversions (csrc/addr.c): inet_pton/ntop,
-- numeric getaddrinfo/getnameinfo, the sockaddr conversion behind bind
-- and connect (UDP connect sends nothing; binds use port 0 or abstract
-- unix names), never a name lookup and never a packet off the machine.
local core = require "lunasock.core"
local F = require "fuzzlib"

local NUMERIC = (core.AI_NUMERICHOST or 0) | (core.AI_NUMERICSERV or 0)
local NI_NUMERIC = (core.NI_NUMERICHOST or 0) | (core.NI_NUMERICSERV or 0)

local function try(fn, ...)
  local ok, a, b, c = pcall(fn, ...)
  if ok and a == nil and b ~= nil then
    F.check(type(b) == "string" and type(c) == "string", "error without code")
  end
  return ok, a, b, c
end

return function(data)
  local r = F.reader(data)
  local op = r.int(0, 5)
  local fam = ({"inet", "inet6", core.AF_INET, core.AF_INET6, "unix", 12345})[r.int(1, 6)]
  local text = r.rest()
  if op == 0 then
    local ok, bin = try(core.inet_pton, fam, text)
    if ok and type(bin) == "string" then
      local ok2, back = try(core.inet_ntop, fam, bin)
      F.check(ok2 and type(back) == "string", "ntop of pton failed")
      local ok3, bin2 = try(core.inet_pton, fam, back)
      F.check(ok3 and bin2 == bin, "pton/ntop round trip: %q", back)
    end
  elseif op == 1 then
    try(core.inet_ntop, fam, text)
  elseif op == 2 then
    local host, port = text:match("^(.-)|(.*)$")
    host = host or text
    try(core.getaddrinfo, host, port ~= "" and port or nil,
        {flags = NUMERIC, family = type(fam) == "number" and fam or nil})
  elseif op == 3 then
    try(core.getnameinfo, text, r.int(0, 65535), NI_NUMERIC)
  elseif op == 4 then
    local family = (fam == "inet6" or fam == core.AF_INET6) and "inet6" or "inet"
    local s = core.socket(family, "dgram")
    if s then
      try(s.bind, s, text, 0)
      try(s.connect, s, text, 9)
      try(s.getsockname, s)
      try(s.getpeername, s)
      s:close()
    end
  else
    -- unix: abstract names only (nothing on the file system)
    local s = core.socket("unix", "dgram")
    if s then
      local ok, res = try(s.bind, s, "\0" .. text)
      if ok and res then
        local _, name = try(s.getsockname, s)
        F.check(name == nil or type(name) == "string", "unix name")
      end
      try(s.connect, s, "\0" .. text)
      s:close()
    end
  end
end
