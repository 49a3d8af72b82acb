-- fuzz harness: lunasock.http.url. parse, resolve and tostring never
-- raise on a string; what parse accepts has a lower-case host, an
-- integer port in range and a target that can go in a request line; and
-- printing a parsed URL and parsing it again gives the same URL. Each
-- call must also be fast: more than 0.25 s of CPU for one input of at
-- most a few KB is a blow-up (a backtracking pattern), reported as a
-- failure.
local url = require "lunasock.http.url"
local F = require "fuzzlib"

local SLOW = 0.25

local function timed(what, fn, ...)
  local t0 = os.clock()
  local res = table.pack(F.must_not_raise(what, fn, ...))
  local dt = os.clock() - t0
  F.check(dt < SLOW, "%s took %.2f s of CPU for %d bytes", what, dt, #tostring((...)))
  return table.unpack(res, 1, res.n)
end

return function(data)
  local cut = (data:byte(1) or 0) % 8
  local s, ref = data:sub(2), nil
  if cut > 0 then
    local at = s:find("\n", 1, true)
    if at then s, ref = s:sub(1, at - 1), s:sub(at + 1) end
  end
  local u = timed("parse", url.parse, s)
  if u then
    F.check(type(u.host) == "string" and u.host == u.host:lower(), "host %q", tostring(u.host))
    F.check(math.type(u.port) == "integer" and u.port >= 0 and u.port <= 65535, "port")
    F.check(type(u.target) == "string" and u.target:sub(1, 1) == "/"
            and not u.target:find("[%s%c\128-\255]"), "target %q", tostring(u.target))
    local text = timed("tostring", url.tostring, u)
    local again = timed("parse again", url.parse, text)
    F.check(again and url.tostring(again) == text, "reparse of %q differs", text)
    if ref then
      local v = timed("resolve", url.resolve, u, ref)
      if v then
        F.check(type(v.target) == "string" and v.target:sub(1, 1) == "/", "resolved target")
      end
    end
  end
  if url.decode then timed("decode", url.decode, s) end
end
