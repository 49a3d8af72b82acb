-- fuzz harness: the one HTTP/1.1 wire grammar (csrc/http_parse.c, through
-- core.http_request, http_response, http_trailers and http_chunked).
-- Invariants: never raises for in-range arguments; a parsed head's parts
-- are well-formed (method a token, target %x21-7E, names tokens, values
-- without CR, LF, NUL or other controls but HTAB); the count of fields
-- stays within max_fields; an error is a known reason name; and the
-- resumable scans agree with a one-shot parse: a head fed in growing
-- prefixes (the state passed back) parses exactly as the whole, and a
-- chunked body decoded piece by piece gives the reference decoder's bytes.
local core = require "lunasock.core"
local F = require "fuzzlib"

local REASONS = {}
for name in ([[BARE_LF BARE_CR INVALID_METHOD INVALID_TARGET INVALID_VERSION
  UNSUPPORTED_VERSION LINE_TOO_LONG HEAD_TOO_LARGE TOO_MANY_FIELDS OBS_FOLD
  INVALID_FIELD_NAME INVALID_FIELD_VALUE INVALID_STATUS_LINE
  INVALID_CHUNK_SIZE CHUNK_SIZE_OVERFLOW INVALID_CHUNK_EXT
  INVALID_CHUNK_END]]):gmatch("%S+") do REASONS[name] = true end

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

local function check_fields(fields, max, lower, lenient)
  F.check(type(fields) == "table" and #fields % 2 == 0, "fields list")
  F.check(#fields // 2 <= max, "%d fields, max %d", #fields // 2, max)
  for i = 1, #fields, 2 do
    local name, value = fields[i], fields[i + 1]
    if not (lenient and name == false) then
      F.check(type(name) == "string" and name:match(TOKEN), "name %q", tostring(name))
      if lower then F.check(not name:find("%u"), "name not lower-case %q", name) end
    end
    F.check(type(value) == "string" and not value:find("[%z\1-\8\10-\31\127]"),
            "value %q", tostring(value))
    F.check(not value:find("^[ \t]") and not value:find("[ \t]$"), "value untrimmed %q", value)
  end
end

-- The results as text, lists spelled out, to compare two parses.
local function show(res)
  local out = {}
  for i = 1, res.n do
    local v = res[i]
    if type(v) == "table" then
      local t = {}
      for k = 1, #v do t[k] = tostring(v[k]) end
      v = "{" .. table.concat(t, "|") .. "}"
    end
    out[i] = tostring(v)
  end
  return table.concat(out, " ")
end

-- Calls parse on growing prefixes of buf (cut where cuts says), passing
-- the state back, then on the whole; returns the packed results of the
-- last call, after checking that the incremental and one-shot agree.
local function resumable(what, parse, buf, cuts, ...)
  local state, at = 0, 0
  for _, n in ipairs(cuts) do
    at = at + n
    if at >= #buf then break end
    local r = table.pack(F.must_not_raise(what, parse, buf:sub(1, at), 1, state, ...))
    if r[1] ~= false then break end   -- done (or failed) early: fine
    F.check(math.type(r[2]) == "integer", "%s: state %s", what, tostring(r[2]))
    state = r[2]
  end
  local inc = table.pack(F.must_not_raise(what, parse, buf, 1, state, ...))
  local once = table.pack(F.must_not_raise(what, parse, buf, 1, 0, ...))
  local a, b = show(inc), show(once)
  F.check(a == b, "%s: resumed scan gives %s, one-shot %s", what, a, b)
  return once
end

-- Reference chunked decoder: body or nil; stops at the last chunk.
local function ref_chunked(s)
  local pos, out = 1, {}
  while true do
    local eol = s:find("\r\n", pos, true)
    if not eol then return nil end
    local line = s:sub(pos, eol - 1)
    local hex = line:match("^(%x+)")
    if not hex then return nil end
    local ext = line:sub(#hex + 1)
    if ext ~= "" and not ext:match("^[ \t]*;") then return nil end
    local sig = hex:gsub("^0+", "")
    if #sig > 15 then return nil end
    local n = tonumber(hex, 16)
    pos = eol + 2
    if n == 0 then return table.concat(out), pos end
    if pos + n + 1 > #s then return nil end
    out[#out + 1] = s:sub(pos, pos + n - 1)
    if s:sub(pos + n, pos + n + 1) ~= "\r\n" then return nil end
    pos = pos + n + 2
  end
end

return function(data)
  local r = F.reader(data)
  local which = r.int(0, 3)
  local max_line = ({4, 16, 100, 8192})[r.int(1, 4)]
  local max_head = ({8, 64, 1000, 65536})[r.int(1, 4)]
  local max_fields = ({0, 1, 3, 100})[r.int(1, 4)]
  local cuts = {}
  for i = 1, 6 do cuts[i] = r.int(1, 24) end
  local buf = r.rest()
  if which == 0 then
    -- the 7th argument asks for the field list even when no framing
    -- field is there (without it, such a head gives false)
    local all = cuts[1] % 2 == 0
    local res = resumable("http_request", core.http_request, buf, cuts,
                          max_line, max_head, max_fields, all)
    local stop = res[1]
    if stop == nil then
      F.check(REASONS[res[2]], "request reason %s", tostring(res[2]))
    elseif stop ~= false then
      F.check(math.type(stop) == "integer" and stop > 1 and stop <= #buf + 1, "stop")
      F.check(res[2]:match(TOKEN), "method %q", res[2])
      F.check(res[3]:match("^[\33-\126]+$"), "target %q", res[3])
      F.check(#res[3] + #res[2] + 10 <= max_line + 0 or max_line >= 0, "line")
      if res[5] ~= false or all then check_fields(res[5], max_fields, true) end
      F.check(math.type(res[6]) == "integer" and math.type(res[7]) == "integer", "mask, q")
      if res[7] > 0 then F.check(res[3]:sub(res[7], res[7]) == "?", "q") end
    end
  elseif which == 1 then
    local res = resumable("http_response", core.http_response, buf, cuts,
                          max_line, max_head, max_fields)
    local stop = res[1]
    if stop == nil then
      F.check(REASONS[res[2]], "response reason %s", tostring(res[2]))
    elseif stop ~= false then
      F.check(math.type(res[2]) == "integer" and res[2] >= 100 and res[2] <= 599, "status")
      F.check(type(res[5]) == "string" and not res[5]:find("[\r\n%z]"), "reason phrase")
      check_fields(res[6], max_fields, false, true)
    end
  elseif which == 2 then
    local res = resumable("http_trailers", core.http_trailers, buf, cuts,
                          max_head, max_fields)
    if res[1] == nil then
      F.check(REASONS[res[2]], "trailer reason %s", tostring(res[2]))
    elseif res[1] ~= false then
      check_fields(res[2], max_fields, true)
    end
  else
    -- chunked: decode buf in pieces (cuts), compare with the reference
    local out, init, left, have = {}, 1, 0, 0
    local failed
    local i = 1
    while true do
      have = math.min(#buf, have + cuts[(i - 1) % #cuts + 1])
      i = i + 1
      local piece, stop, nleft = F.must_not_raise("http_chunked", core.http_chunked,
                                                   buf:sub(1, have), init, left, max_line, 1 << 20)
      if piece == nil then failed = stop break end
      F.check(type(piece) == "string" and math.type(stop) == "integer"
              and stop >= init and stop <= have + 1, "chunked results")
      out[#out + 1] = piece
      init, left = stop, nleft
      if left == -2 then break end
      if have == #buf then break end
    end
    local want, wpos = ref_chunked(buf)
    if failed then
      F.check(REASONS[failed], "chunked reason %s", tostring(failed))
    elseif left == -2 then
      F.check(want ~= nil, "decoder accepted what the reference refuses")
      F.check(table.concat(out) == want, "chunked body differs from the reference")
      F.check(init == wpos, "chunked stop %d, reference %d", init, wpos)
    else
      F.check(want == nil or max_line < 100, "decoder wants more of a complete body")
    end
  end
end
