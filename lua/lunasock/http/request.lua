-- lunasock.http.request: a server's request. Reading the next head off a
-- connection, what it means (RFC 9112: methods, Host, the target's form,
-- framing, keep-alive, Expect; docs/http.md has the policy table), and
-- the request object a handler gets.
--
--   request.read(conn) -> req, or nil, status, reason (answer with it),
--       or nil (close quietly): the next request on a server connection.
--   request.parse(head[, opts]) -> req, or nil, status, reason: the same
--       decisions for a whole head given as a string (without the final
--       CRLF CRLF), for tests and tools.
--
-- The request: method, target (as sent), path (the target's path, still
-- percent-encoded), query_string (after "?", or nil), authority (of an
-- absolute-form target), version ("1.0" or "1.1"), keep_alive, chunked,
-- length (Content-Length, 0 without a body), expect_continue, conditional
-- (the head has If-Match, If-None-Match, If-Modified-Since,
-- If-Unmodified-Since, If-Range or Range: a file server that sees false
-- need not look for them), peer, fields
-- ({name1, value1, ...}, lower-case names, in the order received), and,
-- built on first use, headers (lunasock.http.h1) and query (url.query).
-- Methods: read_body, body_reader, respond, header.
--
-- The head's bytes are parsed in C (core.http_request, the one grammar);
-- its refusals come back as reason names, mapped here to statuses.
local core = require "lunasock.core"
local h1 = require "lunasock.http.h1"
local url = require "lunasock.http.url"
local body = require "lunasock.http.body"
local response = require "lunasock.http.response"
local check = require "lunasock.check"

local find, sub, match, lower, byte = string.find, string.sub, string.match,
                                      string.lower, string.byte
local setmetatable, rawget, rawset, error, select = setmetatable, rawget, rawset, error,
                                                    select
local math_type = math.type
local http_request, http_parser = core.http_request, core.http_parser
local field, has_token = h1.field, h1.has_token

local M = {}

M.MAX_REQUEST_LINE = 8192
M.MAX_HEAD = 32768
M.MAX_HEADERS = 100
M.MAX_BODY = 10 * 1024 * 1024
local CHUNK = 16384             -- bytes asked of one recv for a head

-- Methods a server accepts by default; any other token gets 501.
-- CONNECT is left out: this server is no proxy.
M.METHODS = {GET = true, HEAD = true, POST = true, PUT = true, DELETE = true,
             OPTIONS = true, PATCH = true, TRACE = true}

-- The grammar's reasons (csrc/http_parse.h) as answers.
local REFUSED = {
  BARE_LF = {400, "bare LF in the request head"},
  BARE_CR = {400, "bare CR in the request head"},
  INVALID_METHOD = {400, "invalid method"},
  INVALID_TARGET = {400, "invalid request target"},
  INVALID_VERSION = {400, "invalid HTTP version"},
  UNSUPPORTED_VERSION = {505, "HTTP version not supported"},
  LINE_TOO_LONG = {414, "request line too long"},
  HEAD_TOO_LARGE = {431, "request head too large"},
  TOO_MANY_FIELDS = {431, "too many header fields"},
  OBS_FOLD = {400, "obsolete line folding"},
  INVALID_FIELD_NAME = {400, "malformed header field"},
  INVALID_FIELD_VALUE = {400, "malformed header field"},
}
M.REFUSED = REFUSED

-- bits of core.http_request's mask
local HOST <const>, HOSTS <const>, BADHOST <const>, LENGTH <const> = 1, 2, 4, 8
local TE <const>, CONNECTION <const>, EXPECT <const>, FRAGMENT <const> = 16, 32, 64, 128
local ORIGIN <const>, COND <const> = 256, 512
local SPECIAL <const> = LENGTH | TE | CONNECTION | EXPECT

-- A request's own array part holds what only this module reads: its
-- connection record (nil for request.parse), the string its head is in
-- and where in it the head starts (nil: at 1), for the fields and the
-- headers made on first use. Stored there they cost no new hash key.
local CONN <const>, HEAD <const>, AT <const> = 1, 2, 3

local Request = {__name = "lunasock.http.request"}
local methods = {}
M.Request = Request

-- The field list, made from the head again (core.http_request with all)
-- when the first parse did not need it.
local function fields_of(req)
  local f = rawget(req, "fields")
  if not f then
    local conn = req[CONN]
    local opts = conn and conn.server.opts or M
    f = select(5, http_request(req[HEAD], req[AT] or 1, 0,
                               opts.max_request_line or M.MAX_REQUEST_LINE,
                               0x7fffffff, opts.max_headers or M.MAX_HEADERS, true))
    rawset(req, "fields", f)
  end
  return f
end

-- what a request without a body has; and the version and keep_alive
-- of an HTTP/1.1 request the server's cycle made without them (a
-- request made anywhere else has its own)
local DEFAULTS = {chunked = false, length = 0, expect_continue = false, conditional = false,
                  version = "1.1", keep_alive = true}

function Request.__index(req, k)
  local m = methods[k] or DEFAULTS[k]
  if m ~= nil then return m end
  if k == "target" then
    -- the common request (core.http_parser's) has no "?": its target is its path
    return rawget(req, "path")
  elseif k == "peer" then
    local conn = req[CONN]
    return conn and conn.peer
  elseif k == "conn" then
    return req[CONN]
  elseif k == "headers" then
    local h = h1.headers(fields_of(req))
    rawset(req, "headers", h)
    return h
  elseif k == "fields" then
    return fields_of(req)
  elseif k == "query" then
    local q = url.query(rawget(req, "query_string"))
    rawset(req, "query", q)
    return q
  elseif k == "tls" then
    -- HTTPS: the connection's lunasock.tls info() (the client's
    -- certificate under mutual TLS), on first use; nil for plain HTTP
    local sock = req[CONN].sock
    local info = sock.info and sock:info() or nil
    rawset(req, "tls", info)
    return info
  end
end

---------------------------------------------------------------- reading

-- (below read, in the order it meets them)
local parsed, read_slow, new, transfer_encoding

-- The next request on conn (see the top). Heads are read into the
-- connection's own buffer (conn.buf from conn.pos): one recv straight
-- from the socket while the stream holds nothing, and the requests
-- pipelined in it are parsed from it in turn, with no copy. A head that
-- is not whole there goes to the stream (read_slow); so does what is
-- left before a body is read (to_stream). A bare LF (a client typing
-- into nc) is refused as soon as it comes, not after header_timeout.
function M.read(conn)
  local server = conn.server
  if conn.slow then return read_slow(conn, server.opts) end
  local buf, pos = conn.buf, conn.pos
  -- the common request (new() would make the same: an origin-form path,
  -- one valid Host, no field about framing, connection or expectations,
  -- so no body) comes made by the server's parser (M.parser), which
  -- reads from a core socket itself
  if pos > #buf then
    if conn.out and not response.flush(conn) then return nil end
    if server.plain then
      local data, req, stop, method, target, minor, fields, mask, q =
        server.parse(conn.sock, conn)
      -- a failed read is nil, msg, code: req is then the message
      -- (regression: a reset while waiting became a request)
      if data and req then
        conn.buf, conn.pos, conn.deadline, conn.body = data, stop, false, false
        return req
      end
      if not data or data == "" then return nil end   -- EOF, reset, the reaper
      return parsed(conn, server, data, 1, stop, method, target, minor, fields, mask, q)
    end
    buf = conn.sock:recv(CHUNK)
    if not buf or buf == "" then return nil end
    pos = 1
  end
  local req, stop, method, target, minor, fields, mask, q = server.parse(buf, pos, conn)
  if req then
    conn.buf, conn.pos, conn.deadline, conn.body = buf, stop, false, false
    return req
  end
  return parsed(conn, server, buf, pos, stop, method, target, minor, fields, mask, q)
end

-- The rest of read: a head that is not the common request (made here by
-- new), is refused, or has not come whole (read through the stream).
function parsed(conn, server, buf, pos, stop, method, target, minor, fields, mask, q)
  if stop then
    conn.buf, conn.pos = buf, stop
    conn.deadline = false
    return new(conn, buf, pos, method, target, minor, fields, mask, q, server.opts)
  elseif stop == nil then
    local r = REFUSED[method]
    return nil, r[1], r[2]
  end
  conn.stream:unread(pos == 1 and buf or sub(buf, pos))
  conn.buf, conn.pos, conn.slow = "", 1, true
  return read_slow(conn, server.opts)
end

-- request.parser(opts) -> parse, cycle: the reader of request heads of
-- a server with these limits and methods (core.http_parser), for
-- request.read (the server keeps it as server.parse), and the same
-- reader driving the server's common case in C: reads, handler calls
-- and the answers response.whole makes (server.cycle; see the server).
function M.parser(opts)
  return http_parser(opts.max_request_line, opts.max_head, opts.max_headers,
                     opts.methods or M.METHODS, Request, response.whole, response)
end

-- A head that did not come whole: the stream collects the rest (in
-- O(bytes) however it trickles in) and the scan state makes the grammar
-- look at each byte once. The connection reads through the stream until
-- it has given out everything it held.
function read_slow(conn, opts)
  local st = conn.stream
  local max_line, max_head, max_fields = opts.max_request_line, opts.max_head,
                                         opts.max_headers
  local state = 0
  while true do
    local buf, pos = st:buffer()
    if pos <= #buf then
      local stop, method, target, minor, fields, mask, q =
        http_request(buf, pos, state, max_line, max_head, max_fields)
      if stop then
        st:skip(stop - pos)
        if st:buffered() == 0 then conn.slow = false end
        conn.deadline = false
        return new(conn, buf, pos, method, target, minor, fields, mask, q, opts)
      elseif stop == false then
        state = method
      else
        local r = REFUSED[method]
        return nil, r[1], r[2]
      end
    end
    if conn.out and not response.flush(conn) then return nil end
    if not st:fill() then
      buf, pos = st:buffer()
      if conn.timed_out and find(buf, "[^\r\n]", pos) then
        return nil, 408, "request head not received in time"
      end
      return nil
    end
  end
end

-- The request a parsed head makes, or nil, status, reason. The fields
-- the server needs are looked for only when the mask says they are there.
function new(conn, head, at, method, target, minor, fields, mask, q, opts)
  if not (opts.methods or M.METHODS)[method] then
    return nil, 501, "method not implemented"
  end
  local version = minor == 0 and "1.0" or "1.1"
  if mask & (HOST | HOSTS | BADHOST) ~= HOST then
    if mask & HOST == 0 and version == "1.1" then return nil, 400, "missing Host" end
    if mask & HOSTS ~= 0 then return nil, 400, "more than one Host" end
    if mask & BADHOST ~= 0 then return nil, 400, "invalid Host" end
  end

  -- the target's form (RFC 9112 section 3.2)
  local path, query, authority = target, nil, nil
  if mask & ORIGIN ~= 0 then                     -- "/": origin-form
    if q > 0 then path, query = sub(target, 1, q - 1), sub(target, q + 1) end
  elseif target == "*" then
    if method ~= "OPTIONS" then return nil, 400, "asterisk-form is for OPTIONS" end
  else
    local scheme, auth, rest = match(target, "^(%a[%w+.%-]*)://([^/?]*)(.*)$")
    if not scheme then return nil, 400, "invalid request target" end
    scheme = lower(scheme)
    if scheme ~= "http" and scheme ~= "https" then return nil, 400, "unsupported scheme" end
    if auth == "" or find(auth, "@", 1, true) then return nil, 400, "invalid authority" end
    authority = auth
    if rest == "" or byte(rest, 1) == 63 then rest = "/" .. rest end
    local qq = find(rest, "?", 1, true)
    if qq then path, query = sub(rest, 1, qq - 1), sub(rest, qq + 1) else path = rest end
  end
  if mask & FRAGMENT ~= 0 then return nil, 400, "fragment in request target" end

  local chunked, length, expect_continue = false, 0, false
  local keep = version == "1.1"
  if mask & SPECIAL ~= 0 then
    -- framing (RFC 9112 section 6)
    local te = mask & TE ~= 0 and field(fields, "transfer-encoding")
    local cl = mask & LENGTH ~= 0 and field(fields, "content-length")
    if te then
      if cl then return nil, 400, "Transfer-Encoding with Content-Length" end
      if version == "1.0" then return nil, 400, "Transfer-Encoding in HTTP/1.0" end
      if te ~= "chunked" then
        local status, why = transfer_encoding(te)
        if status then return nil, status, why end
      end
      chunked = true
    elseif cl then
      local n, why = h1.content_length(cl)
      if not n then
        if why == "too large" then return nil, 413, "Content-Length too large" end
        return nil, 400, why .. " Content-Length"
      end
      local max_body = opts.max_body
      if max_body == nil then max_body = M.MAX_BODY end
      if max_body and n > max_body then return nil, 413, "body too large" end
      length = n
    end
    local c = mask & CONNECTION ~= 0 and field(fields, "connection")
    if c then
      if keep then
        keep = not (c == "close" or has_token(c, "close"))
      else
        keep = c == "keep-alive" or has_token(c, "keep-alive")
      end
    end
    local ex = mask & EXPECT ~= 0 and field(fields, "expect")
    if ex then
      if lower(ex) ~= "100-continue" then return nil, 417, "unsupported expectation" end
      expect_continue = version == "1.1"   -- ignored from 1.0 clients
    end
  end
  -- the fields that differ from their defaults (DEFAULTS) are set, the
  -- others nil; listed all the same, so that the table is made large
  -- enough for them and for what a handler adds (params, body, status)
  if conn then conn.body = chunked or length > 0 end
  local req = setmetatable({conn, head, at ~= 1 and at or nil,
                            method = method, target = target, path = path,
                            version = version, keep_alive = keep, query_string = query,
                            authority = authority,
                            fields = fields or nil, chunked = chunked or nil,
                            length = length > 0 and length or nil,
                            expect_continue = expect_continue or nil,
                            conditional = mask & COND ~= 0 or nil}, Request)
  return req
end

-- Transfer-Encoding: the final coding must be chunked (400 otherwise);
-- any other coding is one this server does not implement (501).
function transfer_encoding(value)
  local codings, n = h1.items(lower(value))
  local k = 0
  local first, last
  for i = 1, n do
    local c = codings[i]
    if c ~= "" then
      k = k + 1
      c = match(c, "^([^;%s]*)")
      first = first or c
      last = c
    end
  end
  if last ~= "chunked" then return 400, "Transfer-Encoding does not end in chunked" end
  if k > 1 then
    if first == "chunked" then return 400, "chunked applied twice" end
    return 501, "transfer coding not implemented: " .. first
  end
end

-- Hands what the connection's buffer still holds to the stream, which
-- reads bodies.
local function to_stream(conn)
  local buf, pos = conn.buf, conn.pos
  if pos <= #buf then
    conn.stream:unread(pos == 1 and buf or sub(buf, pos))
    conn.buf, conn.pos, conn.slow = "", 1, true
  end
end

-- The same decisions on a whole head.
function M.parse(head, opts)
  opts = opts or M
  local buf = head .. "\r\n\r\n"
  local stop, method, target, minor, fields, mask, q =
    http_request(buf, 1, 0, opts.max_request_line or M.MAX_REQUEST_LINE,
                 opts.max_head or (#head + 4), opts.max_headers or M.MAX_HEADERS)
  if not stop then
    local r = REFUSED[method] or {400, "incomplete head"}
    return nil, r[1], r[2]
  end
  return new(nil, buf, 1, method, target, minor, fields, mask, q, opts)
end

---------------------------------------------------------------- the body

local function EMPTY() return nil end

-- req:body_reader() -> a body reader (lunasock.http.body); sends
-- "100 Continue" first when the client asked for it.
function methods.body_reader(req)
  local r = rawget(req, "reader")
  if r then return r end
  local conn = req[CONN]
  to_stream(conn)
  response.timed(conn)
  if req.expect_continue and not req.continued then
    req.continued = true
    if response.flush(conn) then conn.stream:write("HTTP/1.1 100 Continue\r\n\r\n") end
  end
  if req.chunked then
    r = body.chunked(conn.stream, {max_body = conn.server.opts.max_body})
  elseif req.length > 0 then
    r = body.fixed(conn.stream, req.length)
  else
    r = EMPTY
  end
  req.reader = r
  return r
end

-- req:read_body([max]) -> the whole body, or nil, msg, code
function methods.read_body(req, max)
  if max ~= nil then check.integer(max, 1, "read_body", 0, math.maxinteger) end
  local b = rawget(req, "body")
  if b then return b end
  if not req.chunked and req.length == 0 then
    req.body = ""
    return ""
  end
  local err, code
  b, err, code = body.readall(methods.body_reader(req),
                              max or req[CONN].server.opts.max_body or nil)
  if not b then
    req.body_error = code
    req[CONN].special = true
    return nil, err, code
  end
  req.body = b
  return b
end

-- After the response: what is left of the request body is read and
-- dropped (up to opts.drain bytes) so that the next request can be
-- found; otherwise the connection closes.
function M.finish_body(conn, req)
  local r = rawget(req, "reader")
  if r and (r == EMPTY or r.done) then return end
  if (r and r.error) or (req.expect_continue and not req.continued) then
    conn.closing = true
    return
  end
  local limit = conn.server.opts.drain
  if not req.chunked and req.length > limit then
    conn.closing = true
    return
  end
  r = methods.body_reader(req)
  local got = 0
  while true do
    local piece = r()
    if not piece then
      if r.error then conn.closing = true end
      return
    end
    got = got + #piece
    if got > limit then
      conn.closing = true
      return
    end
  end
end

---------------------------------------------------------------- responses

-- req:respond(status[, headers]) -> writer: starts a streamed response.
-- Without a Content-Length it is chunked (HTTP/1.1) or ends with the
-- connection (HTTP/1.0).
function methods.respond(req, status, headers)
  if rawget(req, "responded") then
    error("respond: the response has already started", 2)
  end
  if math_type(status) ~= "integer" or status < 200 or status > 999 then
    error("bad argument #1 to 'respond' (status 200-999 expected)", 2)
  end
  req.responded = true
  local conn = req[CONN]
  conn.special = true
  local w = response.start(conn, req, status, headers)
  req.writer = w
  return w
end

-- req:header(name) -> the field's value (any case)
function methods.header(req, name)
  return req.headers[name]
end

return M
