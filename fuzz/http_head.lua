-- fuzz harness: the C HTTP head splitter, core.http_head (csrc/http.c).
-- Invariants: never raises for any buffer and any in-range init/limit;
-- "found" results lie inside the buffer; every field is a lower-case
-- token name and a value without CR, LF or NUL.
local core = require "lunasock.core"
local F = require "fuzzlib"

local head = core.http_head

return function(data)
  if not head then return end   -- the splitter was renamed: see fuzz/README
  local r = F.reader(data)
  local init = r.int(1, 4)
  local limit = r.int(0, 600)
  if r.byte() % 2 == 0 then limit = 65536 end
  local buf = r.rest()
  local fields = {}
  local a, b, c, d, e = F.must_not_raise("http_head", head, buf, init, limit, fields)
  if a == nil then
    F.check(b == nil or b == "EMSGSIZE" or b == "EPROTO", "bad code %s", tostring(b))
    return
  end
  if a == false then   -- handed back to the Lua parser: the head's range
    F.check(math.type(b) == "integer" and math.type(c) == "integer", "range")
    F.check(b >= init and c <= #buf, "range %d..%d outside 1..%d", b, c, #buf)
    return
  end
  -- found: stop (just past the CRLF CRLF), method, target, minor, count
  local stop, method, target, minor, n = a, b, c, d, e
  F.check(math.type(stop) == "integer" and stop > init and stop <= #buf + 1,
          "stop %s", tostring(stop))
  F.check(type(method) == "string" and method:match("^%u+$"), "method")
  F.check(type(target) == "string" and target:match("^[\33-\126]+$"), "target")
  F.check(minor == "0" or minor == "1", "minor %s", tostring(minor))
  F.check(math.type(n) == "integer" and n >= 0, "count %s", tostring(n))
  for i = 1, n do
    local name, value = fields[2 * i - 1], fields[2 * i]
    F.check(type(name) == "string" and name:match("^[!#$%%&'*+%-.^_`|~%w]+$")
            and not name:find("[A-Z]"), "bad name %q", tostring(name))
    F.check(type(value) == "string" and not value:find("[\r\n%z]"), "bad value %q",
            tostring(value))
  end
end
