-- fuzz harness: every framer of lunasock.frame over a lunasock.stream on
-- an in-memory socket that delivers the input in pieces, with timeouts
-- injected between them. Each framer's results are checked against a
-- small reference decoder of the same format: every message is the next
-- frame of the input, every limit is honoured, a read that timed out and
-- is retried gives what an uninterrupted read gives, and nothing raises.
local frame = require "lunasock.frame"
local stream = require "lunasock.stream"
local memsock = require "memsock"
local F = require "fuzzlib"

local MAXES = {0, 1, 3, 10, 100, 4096, math.maxinteger}
local FORMATS = {">I1", "<I2", ">I2", ">i2", "<I4", ">I3", ">i4", "<i8", ">I8", "s1", "<s2"}

-- Reference decoders: (input, pos, framer) -> msg, next_pos | nil, code
local ref = {}

function ref.lines(s, pos, f)
  if pos > #s then return nil, "EOF" end
  local nl = s:find("\n", pos, true)
  local line = s:sub(pos, (nl or #s + 1) - 1)
  if not nl then   -- room for a CR whose LF has not come: max + 1
    return nil, #line - 1 > f.max and "EMSGSIZE" or "EPROTO"
  end
  if line:sub(-1) == "\r" then line = line:sub(1, -2) end
  if #line > f.max then return nil, "EMSGSIZE" end
  return line, nl + 1
end

function ref.netstring(s, pos, f)
  if pos > #s then return nil, "EOF" end
  local digits = s:match("^%d*", pos)
  local after = s:sub(pos + #digits, pos + #digits)
  if #digits > 1 and digits:sub(1, 1) == "0" then return nil, "EPROTO" end
  local n = math.tointeger(tonumber(digits))
  if #digits > 0 and (n == nil or n > f.max or #digits > 19) then return nil, "EMSGSIZE" end
  if after == "" then return nil, "EPROTO" end
  if after ~= ":" or #digits == 0 then return nil, "EPROTO" end
  local start = pos + #digits + 1
  if start + n > #s then return nil, "EPROTO" end
  if s:sub(start + n, start + n) ~= "," then return nil, "EPROTO" end
  return s:sub(start, start + n - 1), start + n + 1
end

function ref.length(s, pos, f)
  if pos > #s then return nil, "EOF" end
  if pos + f.bytes - 1 > #s then return nil, "EPROTO" end
  local ok, n = pcall(string.unpack, f.fmt, s, pos)
  if not ok then return nil, "EMSGSIZE/EPROTO" end
  if n < 0 then return nil, f.signed and "EPROTO" or "EMSGSIZE" end
  if n > f.max then return nil, "EMSGSIZE" end
  local start = pos + f.bytes
  if start + n - 1 > #s then return nil, "EPROTO" end
  return s:sub(start, start + n - 1), start + n
end

function ref.fixed(s, pos, f)
  if pos > #s then return nil, "EOF" end
  if pos + f.size - 1 > #s then return nil, "EPROTO" end
  return s:sub(pos, pos + f.size - 1), pos + f.size
end

local function same_code(got, want)
  return got == want or (want == "EMSGSIZE/EPROTO" and (got == "EMSGSIZE" or got == "EPROTO"))
end

return function(data)
  local r = F.reader(data)
  local kind = r.int(1, 4)
  local max = MAXES[r.int(1, #MAXES)]
  local f, name
  if kind == 1 then
    f, name = frame.lines{max = max, eol = r.byte() % 2 == 0 and "\n" or "\r\n"}, "lines"
  elseif kind == 2 then
    f, name = frame.netstring{max = max}, "netstring"
  elseif kind == 3 then
    f, name = frame.length(FORMATS[r.int(1, #FORMATS)], {max = max}), "length"
  else
    f, name = frame.fixed(r.int(1, 64)), "fixed"
  end
  local chunk = r.int(1, 70)
  local split = r.take(8)
  local input = r.rest()
  -- pieces of 1..16 bytes (sizes from split), a timeout after some
  local pieces, i, k = {}, 1, 0
  while i <= #input do
    k = k + 1
    local b = split:byte((k - 1) % math.max(#split, 1) + 1) or 7
    local n = b % 16 + 1
    pieces[#pieces + 1] = input:sub(i, i + n - 1)
    if b >= 0xe0 then pieces[#pieces + 1] = false end
    i = i + n
  end
  local st = stream.new(memsock.new(pieces), {chunk = chunk})
  local pos, reads = 1, 0
  while reads < 10000 do
    reads = reads + 1
    local msg, err, code = F.must_not_raise(name .. ":read", f.read, f, st)
    if code == "ETIMEDOUT" then goto again end
    do
      local want, nxt = ref[name](input, pos, f)
      if msg then
        F.check(want == msg, "%s: got %q, reference %q (at %d)", name, msg, tostring(want), pos)
        F.check(#msg <= f.max, "%s: message over max", name)
        pos = nxt
      else
        F.check(type(err) == "string", "%s: error without message", name)
        F.check(same_code(code, nxt), "%s: code %s, reference %s (at %d)", name,
                tostring(code), tostring(nxt), pos)
        break
      end
    end
    ::again::
  end
  -- writing what was read back gives the same bytes, for a message in range
  local out = memsock.new({})
  local ws = stream.new(out)
  local ok, err = F.must_not_raise(name .. ":write", f.write, f, ws, input:sub(1, 20))
  F.check(ok or type(err) == "string", "%s: write result", name)
end
