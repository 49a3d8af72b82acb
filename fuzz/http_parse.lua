-- fuzz harness: the one HTTP/1.1 wire grammar (csrc/http_parse.c, through
-- core.http_request, http_response, http_trailers and http_chunked).
-- Invariants: never raises for in-range arguments; a parsed head's parts
-- are well-formed (method a token, target %x21-7E, names tokens, values
-- without CR, LF, NUL or other controls but HTAB); the count of fields
-- stays within max_fields; an error is a known reason name; and the
-- resumable scans agree with a one-shot parse: a head fed in growing
-- prefixes (the state passed back) parses exactly as the whole, and a
-- chunked body decoded piece by piece gives the reference decoder's bytes.
-- core.http_parser (a server's reader of the common request) agrees with
-- core.http_request on the same bytes (stop, method, target, minor, mask),
-- builds exactly the request lunasock.http.request's Lua path builds, takes
-- every common request it is given, and its socket form (parse(sock, conn),
-- a recv in C) answers as its string form on what the recv brought.
local core = require "lunasock.core"
local request = require "lunasock.http.request"
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

-- Two request tables are the same: same metatable, and every field a
-- handler or request.lua reads gives the same value (read through the
-- metatable: the parser's request answers target from __index).
local FIELDS = {"method", "target", "path", "version", "keep_alive", "conn",
                "query_string", "authority", "chunked", "length",
                "expect_continue", "conditional", 1, 2, 3}
local function same_request(a, b)
  if getmetatable(a) ~= getmetatable(b) then return false, "metatable" end
  for _, k in ipairs(FIELDS) do
    if a[k] ~= b[k] then return false, tostring(k) end
  end
  for k in next, a do
    if a[k] ~= b[k] then return false, tostring(k) end
  end
  for k in next, b do
    if a[k] ~= b[k] then return false, tostring(k) end
  end
  return true
end

local COMMON = 1 | 256      -- mask: one valid Host, origin-form target
local METHODS = {
  request.METHODS,
  {GET = true, HEAD = true, POST = true, PUT = false, X = 1},
}

-- core.http_parser on buf from init, against core.http_request and the Lua
-- request builder (request.read with a parser that never takes a request).
local function parser_case(buf, init, max_line, max_head, max_fields, methods)
  local opts = {max_request_line = max_line, max_head = max_head,
                max_headers = max_fields, methods = methods}
  local parse = F.must_not_raise("http_parser", request.parser, opts)
  local conn = {}
  local a = table.pack(F.must_not_raise("parse", parse, buf, init, conn))
  local b = table.pack(F.must_not_raise("http_request", core.http_request,
                                        buf, init, 0, max_line, max_head, max_fields))
  if type(a[1]) == "table" then
    local req, stop = a[1], a[2]
    F.check(a.n == 2 and stop == b[1], "parser stop %s, http_request %s",
            tostring(stop), tostring(b[1]))
    F.check(req.method == b[2] and req.target == b[3] and req.path == b[3],
            "method/target differ")
    F.check(req.version == (b[4] == 0 and "1.0" or "1.1"), "version")
    F.check(b[6] == COMMON and b[7] == 0, "parser took mask %d q %d", b[6], b[7])
    F.check(methods[req.method], "parser took method %q", req.method)
    -- the Lua path on the same bytes
    local lconn = {buf = buf, pos = init, server = {opts = opts, plain = false,
      parse = function(bb, p)
        return false, core.http_request(bb, p, 0, max_line, max_head, max_fields)
      end}}
    local lreq = F.must_not_raise("request.read", request.read, lconn)
    F.check(type(lreq) == "table", "Lua path refused what the parser took")
    F.check(lconn.pos == stop, "Lua stop %s, parser %s", tostring(lconn.pos), stop)
    rawset(lreq, 1, conn)        -- the connection record: the same for both
    local ok, key = same_request(req, lreq)
    F.check(ok, "parser's request differs from request.lua's at %s", key)
  else
    F.check(a[1] == false, "parser first result %s", tostring(a[1]))
    local rest = table.pack(table.unpack(a, 2, a.n))
    F.check(show(rest) == show(b), "parser gives %s, http_request %s", show(rest), show(b))
    F.check(not (math.type(b[1]) == "integer" and b[6] == COMMON and b[7] == 0
                 and methods[b[2]]), "parser refused a common request")
  end
  -- the socket form: one recv, then the same parse from 1
  if init == 1 and #buf <= 16384 then
    local x, y = assert(core.socketpair())
    if #buf > 0 then assert(y:send(buf) == #buf) end
    y:close()
    x:settimeout(0)
    local c = table.pack(F.must_not_raise("parse(sock)", parse, x, conn))
    x:close()
    F.check(c[1] == buf, "socket form read %q", tostring(c[1]))
    if buf == "" then
      F.check(c.n == 1, "EOF gives more than \"\"")
    elseif type(a[1]) == "table" then
      F.check(c.n == 3 and type(c[2]) == "table" and c[3] == a[2], "socket form results")
      F.check(same_request(a[1], c[2]), "socket form request differs")
    else
      local rest = table.pack(table.unpack(c, 2, c.n))
      F.check(show(rest) == show(a), "socket form %s, string form %s", show(rest), show(a))
    end
  end
end

return function(data)
  local r = F.reader(data)
  local which = r.int(0, 4)
  local max_line = ({4, 16, 100, 8192})[r.int(1, 4)]
  local max_head = ({8, 64, 1000, 65536})[r.int(1, 4)]
  local max_fields = ({0, 1, 3, 100})[r.int(1, 4)]
  local cuts = {}
  for i = 1, 6 do cuts[i] = r.int(1, 24) end
  local buf = r.rest()
  if which == 4 then
    local init = cuts[2] % 3 == 0 and cuts[3] or 1
    parser_case(buf, init, max_line, max_head, max_fields, METHODS[cuts[4] % 2 + 1])
  elseif which == 0 then
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
