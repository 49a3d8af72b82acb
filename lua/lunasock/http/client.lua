-- lunasock.http.client: an HTTP/1.1 client with a keep-alive pool.
--
--   local client = require "lunasock.http.client"
--   local r = assert(client.get("127.0.0.1:8080/hello"))
--   print(r.status, r.headers["content-type"], r.body)
--
-- client.request(opts) -> response, or nil, msg, code. opts:
--   url        a full URL or "host[:port]/path" (lunasock.http.url)
--   method     default "GET", or "POST" when a body is given
--   headers    name -> value (a string, a number, or a list of them for a
--              repeated field); Host, User-Agent, Content-Length,
--              Transfer-Encoding and Authorization (from userinfo) are
--              filled in unless given
--   body       a string, or a source: a function returning the next piece
--              (a string), nil at the end, or nil, msg on failure. A
--              source is sent chunked unless headers has Content-Length.
--   sink       function(piece) receiving the response body piece by piece
--              instead of response.body; returning false or nil, msg
--              stops the transfer (nil, msg, "ECANCELED")
--   on_head    function(response) called with the final response before
--              its body is read (status, headers... but no body yet)
--   timeout    seconds for the whole request, redirects included
--              (default 60; false: none)
--   connect_timeout  seconds for each connection (default 10)
--   redirects  how many redirects to follow (default 5; 0 or false: none)
--   max_body   bytes of a response body kept in response.body (default
--              64 MiB; false: none). A sink has no limit.
--   max_head, max_headers, max_status_line  response head limits
--   pool       a pool from client.pool{...}, false for a connection per
--              request (sent with Connection: close), or nil for
--              client.default_pool
--   tls        for https:// URLs: a table of lunasock.tls context options
--              ({cafile = ..., verify = false, ...}) or a tls.context;
--              default: the pool's tls, else client.DEFAULTS.tls, else
--              the system's CA store with host name checks
--   allow_downgrade  follow a redirect from https:// to http:// (default
--              false: such a redirect fails with "EPERM")
--   user_agent  the User-Agent value (false: none)
--
-- The response: status, reason, version ("1.1" or "1.0"), headers
-- (lower-case names, case-insensitive lookup, repeated fields joined with
-- ", "), fields (every field as {name, value} in the order received),
-- body (a string; nil with a sink), trailers (of a chunked body, or nil),
-- url (the URL that answered, after redirects), redirects (how many
-- were followed) and, for https://, tls (the connection's tls info():
-- version, cipher, peer, session_reused...).
--
-- Reads and writes follow the overall deadline: before each recv or send
-- the socket's timeout is set to the time left, so a server dripping
-- bytes cannot stretch a request past it.
local core = require "lunasock.core"
local body = require "lunasock.http.body"
local url = require "lunasock.http.url"
local h1 = require "lunasock.http.h1"
local pool = require "lunasock.http.pool"
local check = require "lunasock.check"

local find, sub, lower, format, byte =
  string.find, string.sub, string.lower, string.format, string.byte
local concat, sort = table.concat, table.sort
local type, error, pairs, ipairs, tostring, setmetatable, tointeger =
  type, error, pairs, ipairs, tostring, setmetatable, math.tointeger
local tonumber, getmetatable, math_type = tonumber, getmetatable, math.type
local monotime = core.monotime
local http_response = core.http_response
local has_token, TOKEN = h1.has_token, h1.TOKEN

local M = {}

M.DEFAULTS = {
  timeout = 60,                 -- seconds for a whole request
  connect_timeout = 10,         -- seconds for one connection
  redirects = 5,                -- redirects followed
  max_status_line = 8192,       -- bytes
  max_head = 65536,             -- bytes of status line and fields
  max_headers = 100,            -- fields
  max_body = 64 * 1024 * 1024,  -- bytes kept in response.body (false: none)
  max_interim = 16,             -- 1xx responses skipped before the final one
  drain = 65536,                -- bytes of a redirect's body read to keep
                                -- its connection
  user_agent = "lunasock/" .. tostring(core._VERSION):match("[%d.]+$"),
  tls = nil,                    -- TLS settings for https:// (nil: verified
                                -- against the system's CA store)
}

M.POOL_DEFAULTS = pool.DEFAULTS
M.Pool = pool.Pool
-- client.pool{max_idle, max_total, idle_timeout, tls} -> a keep-alive pool
M.pool = pool.new
M.default_pool = pool.new()

-- methods a stale keep-alive connection may be retried for (RFC 9110
-- section 9.2.2)
local IDEMPOTENT = {GET = true, HEAD = true, PUT = true, DELETE = true,
                    OPTIONS = true, TRACE = true}
local REDIRECT = {[301] = true, [302] = true, [303] = true, [307] = true,
                  [308] = true}
-- fields about the body, dropped with it when a redirect changes the method
local CONTENT_FIELDS = {["content-length"] = true, ["content-type"] = true,
                        ["transfer-encoding"] = true,
                        ["content-encoding"] = true,
                        ["content-language"] = true,
                        ["content-location"] = true}
-- credentials, not sent to another host:port after a redirect
local CREDENTIALS = {authorization = true, ["proxy-authorization"] = true,
                     cookie = true, host = true}

local function fail(msg, code)
  return nil, msg, code
end

---------------------------------------------------------------- headers

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local q = {}
    for k = 1, 4 do
      local v = (n >> (6 * (4 - k))) & 63
      q[k] = sub(B64, v + 1, v + 1)
    end
    if not b then q[3], q[4] = "=", "=" elseif not c then q[4] = "=" end
    out[#out + 1] = concat(q)
  end
  return concat(out)
end
M.base64 = base64

-- The caller's headers as a list of {name, value}, checked: a token for
-- a name, no CR, LF or NUL in a value. Raises on misuse (level: the
-- caller of request).
local function header_list(headers)
  local list = {}
  if headers == nil then return list end
  if type(headers) ~= "table" then
    error("bad option 'headers' to 'http.request' (table expected, got " .. type(headers) .. ")",
          3)
  end
  local names = {}
  for name in pairs(headers) do
    if type(name) ~= "string" or not find(name, TOKEN) then
      error("bad header name " .. format("%q", tostring(name)), 3)
    end
    names[#names + 1] = name
  end
  sort(names)
  for _, name in ipairs(names) do
    local v = headers[name]
    local values = type(v) == "table" and v or {v}
    for _, value in ipairs(values) do
      if type(value) ~= "string" and type(value) ~= "number" then
        error("bad value for header " .. name .. " (string expected)", 3)
      end
      value = tostring(value)
      if find(value, "[%z\r\n]") then
        error("bad value for header " .. name .. " (CR, LF or NUL)", 3)
      end
      local lname = lower(name)
      if lname == "transfer-encoding" then
        error("header Transfer-Encoding is set by the client, not the caller", 3)
      end
      list[#list + 1] = {name, value, lname}
    end
  end
  return list
end

local function find_field(list, lname)
  for _, f in ipairs(list) do
    if f[3] == lname then return f[2] end
  end
end

local function without(list, drop)
  local out = {}
  for _, f in ipairs(list) do
    if not drop[f[3]] then out[#out + 1] = f end
  end
  return out
end

---------------------------------------------------------------- request

-- The request head for method on u, with the caller's fields and the
-- framing for body (nil, a string, or a function). Returns the head and
-- the framing of the body: "length" or "chunked".
local function request_head(ctx, method, u, fields, body_)
  local out = {method, " ", u.target, " HTTP/1.1\r\n"}
  local function add(name, value)
    out[#out + 1] = name
    out[#out + 1] = ": "
    out[#out + 1] = value
    out[#out + 1] = "\r\n"
  end
  if not find_field(fields, "host") then add("Host", url.authority(u)) end
  local ua = ctx.opts.user_agent
  if ua == nil then ua = M.DEFAULTS.user_agent end
  if ua and not find_field(fields, "user-agent") then add("User-Agent", ua) end
  if u.user and not find_field(fields, "authorization") then
    add("Authorization", "Basic " .. base64(u.user .. ":" .. (u.password or "")))
  end
  for _, f in ipairs(fields) do add(f[1], f[2]) end
  local framing = "length"
  local clen = find_field(fields, "content-length")
  if type(body_) == "function" then
    if not clen then
      add("Transfer-Encoding", "chunked")
      framing = "chunked"
    end
  elseif not clen then
    if body_ then
      add("Content-Length", #body_)
    elseif method == "POST" or method == "PUT" or method == "PATCH" then
      add("Content-Length", "0")
    end
  end
  if not ctx.pool and not find_field(fields, "connection") then
    add("Connection", "close")
  end
  out[#out + 1] = "\r\n"
  return concat(out), framing, clen and tointeger(clen)
end

-- Sends the head and the body. true, or nil, msg, code.
local function send_request(ctx, conn, method, u, fields, body_)
  local head, framing, clen = request_head(ctx, method, u, fields, body_)
  local st = conn.stream
  if type(body_) == "string" then
    if #body_ <= 65536 then return st:write(head .. body_) end
    local ok, err, code = st:write(head)
    if not ok then return nil, err, code end
    return st:write(body_)
  elseif body_ == nil then
    return st:write(head)
  end
  local ok, err, code = st:write(head)
  if not ok then return nil, err, code end
  conn.dirty = true    -- a failed source leaves the request unfinished
  local w = framing == "chunked" and body.chunked_writer(st)
  local sent = 0
  while true do
    local piece, serr = body_()
    if piece == nil then
      if serr ~= nil then
        return fail("request body source failed: " .. tostring(serr), "EIO")
      end
      break
    end
    if type(piece) ~= "string" then
      error("request body source returned a " .. type(piece) .. " (string expected)", 0)
    end
    if w then
      ok, err, code = w.write(piece)
    else
      sent = sent + #piece
      if sent > clen then
        return fail("request body longer than its Content-Length", "EINVAL")
      end
      ok, err, code = st:write(piece)
    end
    if not ok then return nil, err, code end
  end
  if w then
    ok, err, code = w.finish()
    if not ok then return nil, err, code end
  elseif sent ~= clen then
    return fail("request body shorter than its Content-Length", "EINVAL")
  end
  conn.dirty = false
  return true
end

---------------------------------------------------------------- response

-- The grammar's reasons (csrc/http_parse.h) as the client's errors.
local REFUSED = {
  LINE_TOO_LONG = {"status line too long", "EMSGSIZE"},
  HEAD_TOO_LARGE = {"response head too large", "EMSGSIZE"},
  TOO_MANY_FIELDS = {"too many header fields", "EMSGSIZE"},
  UNSUPPORTED_VERSION = {"unsupported HTTP version", "EPROTO"},
  INVALID_STATUS_LINE = {"malformed status line", "EPROTO"},
}
local MALFORMED = {"malformed header field", "EPROTO"}

-- Reads one response head (core.http_response: the one grammar, lenient
-- where RFC 9112 lets a user agent be: a LF alone ends a line, obs-fold
-- becomes a space). Returns a head table, or nil, msg, code, silent
-- where silent is true when the server sent nothing at all (the sign of
-- a keep-alive connection it had closed).
local function read_head(ctx, conn)
  local st, o = conn.stream, ctx.limits
  local state = 0
  while true do
    local buf, pos = st:buffer()
    local stop, status, major, minor, reason, list =
      http_response(buf, pos, state, o.max_status_line, o.max_head, o.max_headers)
    if stop then
      st:skip(stop - pos)
      local fields, n = {}, 0
      for i = 1, #list, 2 do
        local name, value = list[i], list[i + 1]
        if name then
          n = n + 1
          fields[n] = {name, value}
        else                 -- obs-fold: RFC 9112 5.2, replaced by a space
          fields[n][2] = fields[n][2] .. " " .. value
        end
      end
      local headers = h1.headers()
      for i = 1, n do
        local f = fields[i]
        local lname = lower(f[1])
        local old = headers[lname]
        headers[lname] = old and (old .. ", " .. f[2]) or f[2]
      end
      return {status = status, reason = reason, version = major .. "." .. minor,
              headers = headers, fields = fields}
    elseif stop == false then
      state = status
    else
      local r = REFUSED[status] or MALFORMED
      return fail(r[1], r[2])
    end
    local ok, err, code = st:fill()
    if not ok then
      local nothing = st:buffered() == 0
      if code == "EOF" then
        err = nothing and "connection closed before the response"
              or "connection closed in the response head"
        code = "closed"
        return nil, err, code, nothing
      end
      -- an EOF without close_notify (TLS) before any byte: a stale
      -- connection as well
      return nil, err, code, nothing and (code == "ECONNRESET" or code == "TLS_TRUNCATED")
    end
  end
end

-- How the body of head (the response to method) is framed: "none",
-- "chunked", "length" (with the length), or "close" (until the server
-- closes); nil, msg, "EPROTO" for framing that cannot be trusted.
local function framing(method, head)
  local status, h = head.status, head.headers
  if method == "HEAD" or status == 204 or status == 304 or status < 200 then
    return "none"
  end
  local te, cl = h["transfer-encoding"], h["content-length"]
  if te then
    if cl then
      return fail("response has both Transfer-Encoding and Content-Length", "EPROTO")
    end
    if lower(h1.trim(te)) ~= "chunked" then
      return fail("unsupported transfer coding: " .. te, "EPROTO")
    end
    return "chunked"
  end
  if cl then
    local n, why = h1.content_length(cl)
    if not n then
      if why == "conflicting" then return fail("conflicting Content-Length values", "EPROTO") end
      return fail("malformed Content-Length", "EPROTO")
    end
    return "length", n
  end
  return "close"
end

local function until_close(st)
  local done = false
  return function()
    if done then return nil end
    local piece, err, code = st:read()
    if piece then return piece end
    if code == "EOF" then
      done = true
      return nil
    end
    return nil, err, code
  end
end

local function no_body() return nil end

-- The reader for head's body, whether the connection may be kept, and
-- the body's length when a Content-Length gives it.
local function body_reader(conn, method, head)
  local kind, n = framing(method, head)
  if not kind then return nil, n, "EPROTO" end
  local conn_field = head.headers.connection
  local keep
  if head.version == "1.1" then
    keep = not has_token(conn_field, "close")
  else
    keep = has_token(conn_field, "keep-alive")
  end
  local reader
  if kind == "none" then
    reader = no_body
  elseif kind == "length" then
    reader = body.fixed(conn.stream, n)
    return reader, keep, n
  elseif kind == "chunked" then
    reader = body.chunked(conn.stream, {max_body = false})
  else
    reader = until_close(conn.stream)
    keep = false
  end
  return reader, keep
end

---------------------------------------------------------------- exchange

-- Gives conn back: to the pool when keep is true, else closed.
local function release(ctx, conn, keep)
  ctx.conn = nil
  if ctx.pool then ctx.pool:keep_session(conn) end
  if keep and ctx.pool and not conn.dirty then
    ctx.pool:checkin(conn)
  else
    conn:close()
  end
end

local function retryable(method, body_)
  return IDEMPOTENT[method] and type(body_) ~= "function"
end

-- Sends the request and reads the final response head (1xx skipped).
-- Returns head, conn; or nil, msg, code.
local function exchange(ctx, method, u, fields, body_)
  local settings = ctx.opts.tls
  if settings == nil and ctx.pool then settings = ctx.pool.tls end
  if settings == nil then settings = M.DEFAULTS.tls end
  local key, tctx, kcode = pool.key(u, settings)
  if not key then return nil, tctx, kcode end
  local fresh = false
  while true do
    local conn = not fresh and ctx.pool and ctx.pool:checkout(key)
    if conn then
      conn.deadline = ctx.deadline
    else
      local err, code
      local t = ctx.opts.connect_timeout
      if t == nil then t = M.DEFAULTS.connect_timeout end
      conn, err, code = pool.connect(u, key, {connect_timeout = t}, ctx.deadline, tctx,
                                     ctx.pool and ctx.pool:session(key) or nil)
      if not conn then return nil, err, code end
    end
    ctx.conn = conn
    local ok, err, code = send_request(ctx, conn, method, u, fields, body_)
    local head, silent
    if ok or code == "EPIPE" or code == "ECONNRESET" then
      -- after a failed write the server may have answered already
      -- (a 413 before closing, say): read what it said
      local werr, wcode = err, code
      local interim = 0
      repeat
        head, err, code, silent = read_head(ctx, conn)
        if head and head.status < 200 then
          if head.status == 101 then
            head, err, code = nil, "unexpected 101 Switching Protocols", "EPROTO"
          else
            interim = interim + 1
            if interim > ctx.limits.max_interim then
              head, err, code = nil, "too many 1xx responses", "EPROTO"
            end
          end
        end
      until not head or head.status >= 200
      if not head and not ok then err, code = werr, wcode end
      if head and not ok then conn.dirty = true end
    end
    if head then return head, conn end
    ctx.conn = nil
    conn:close()
    -- a pooled connection the server had closed: once more, on a new one
    local stale = silent or (not ok and (code == "EPIPE" or code == "ECONNRESET"))
    if not (conn.reused and stale and retryable(method, body_)) or fresh then
      return nil, err, code
    end
    fresh = true
  end
end

-- Reads the body through reader into the sink, or into a string. A
-- Content-Length (length) over max_body is refused before any of the
-- body is waited for.
local function read_body(ctx, reader, length)
  local sink = ctx.opts.sink
  if not sink then
    local max = ctx.limits.max_body or nil
    if max and length and length > max then
      return fail("body larger than " .. max .. " bytes", "EMSGSIZE")
    end
    return body.readall(reader, max)
  end
  while true do
    local piece, err, code = reader()
    if not piece then
      if err then return nil, err, code end
      return true
    end
    local ok, msg = sink(piece)
    if ok == false or (ok == nil and msg ~= nil) then
      return fail("sink stopped the transfer" .. (msg and (": " .. tostring(msg)) or ""),
                  "ECANCELED")
    end
  end
end

local function limits_of(opts)
  local d, l = M.DEFAULTS, {}
  for _, k in ipairs{"max_status_line", "max_head", "max_headers", "max_interim",
                     "drain"} do
    local v = opts[k]
    if v == nil then v = d[k] end
    l[k] = v
  end
  l.max_body = opts.max_body
  if l.max_body == nil then l.max_body = d.max_body end
  return l
end

-- The options request takes (get takes the same, url apart).
local OPTIONS = {
  url = true, method = true, headers = true, body = true, sink = true, on_head = true,
  timeout = true, connect_timeout = true, redirects = true, pool = true, max_body = true,
  max_head = true, max_headers = true, max_status_line = true, max_interim = true,
  drain = true, user_agent = true, tls = true, allow_downgrade = true,
}

local function check_opts(opts, fname)
  check.known(opts, fname, OPTIONS, 3)
  local function bad(k, expected)
    error(format("bad option '%s' to '%s' (%s expected, got %s)", k, fname, expected,
                 type(opts[k])), 4)
  end
  if type(opts.url) ~= "string" then bad("url", "string") end
  local m = opts.method
  if m ~= nil and (type(m) ~= "string" or not find(m, TOKEN)) then
    bad("method", "a method token")
  end
  local b = opts.body
  if b ~= nil and type(b) ~= "string" and type(b) ~= "function" then
    bad("body", "string or function")
  end
  if opts.headers ~= nil and type(opts.headers) ~= "table" then bad("headers", "table") end
  if opts.sink ~= nil and type(opts.sink) ~= "function" then bad("sink", "function") end
  if opts.on_head ~= nil and type(opts.on_head) ~= "function" then bad("on_head", "function") end
  for _, k in ipairs{"timeout", "connect_timeout"} do
    local v = opts[k]
    if v ~= nil and v ~= false and (type(v) ~= "number" or v ~= v or v < 0) then
      bad(k, "non-negative number or false")
    end
    if v then check.seconds(v, k, fname, 3) end
  end
  local r = opts.redirects
  if r ~= nil and r ~= false and math_type(r) ~= "integer" then
    bad("redirects", "integer or false")
  end
  if r then check.integer(r, "redirects", fname, 0, 0x7fffffff, 3) end
  -- limits, range-checked here once (see limits_of)
  for _, k in ipairs{"max_status_line", "max_head", "max_headers", "max_interim", "drain"} do
    check.opt_integer(opts, k, fname, 0, 0x7fffffff, 3)
  end
  if opts.max_body ~= false then
    check.opt_integer(opts, "max_body", fname, 0, math.maxinteger, 3)
  end
  -- a security switch takes true or false only: "no" must not mean yes
  check.opt_boolean(opts, "allow_downgrade", fname, 3)
  local ua = opts.user_agent
  if ua ~= nil and ua ~= false and type(ua) ~= "string" then
    bad("user_agent", "string or false")
  end
  local p = opts.pool
  if p ~= nil and p ~= false and getmetatable(p) ~= pool.Pool then
    bad("pool", "a client.pool, false or nil")
  end
  pool.check_tls(opts.tls, 3, fname)
end

-- Closes the connection in use if request() is left by an error (a sink
-- or source raising) or its task is cancelled.
local Guard = {__close = function(ctx)
  local c = ctx.conn
  if c then
    ctx.conn = nil
    c:close()
  end
end}

-- client.request(opts) -> response, or nil, msg, code (see the top)
function M.request(opts)
  if type(opts) == "string" then opts = {url = opts} end
  if type(opts) ~= "table" then
    error("bad argument #1 to 'request' (table or URL expected, got " .. type(opts) .. ")", 2)
  end
  check_opts(opts, "http.request")
  local u, err, code = url.parse(opts.url)
  if not u then return nil, err, code end
  local body_ = opts.body
  local method = opts.method or (body_ ~= nil and "POST" or "GET")
  local fields = header_list(opts.headers)
  local clen = find_field(fields, "content-length")
  if clen then
    local n = find(clen, "^%d+$") and tointeger(tonumber(clen))
    if not n then error("bad value for header Content-Length", 2) end
    if type(body_) == "string" and n ~= #body_ then
      error("header Content-Length disagrees with the body's length", 2)
    elseif body_ == nil and n ~= 0 then
      error("header Content-Length given without a body", 2)
    end
  end
  local timeout = opts.timeout
  if timeout == nil then timeout = M.DEFAULTS.timeout end
  local use = opts.pool
  if use == nil then use = M.default_pool end
  if has_token(find_field(fields, "connection"), "close") then use = false end
  local max_redirects = opts.redirects
  if max_redirects == nil then max_redirects = M.DEFAULTS.redirects end
  local ctx <close> = setmetatable({
    opts = opts, pool = use, limits = limits_of(opts), conn = nil,
    deadline = timeout and monotime() + timeout or nil,
  }, Guard)
  local hops = 0
  while true do
    local head, conn, xcode = exchange(ctx, method, u, fields, body_)
    if not head then return nil, conn, xcode end
    local reader, keep, length = body_reader(conn, method, head)
    if not reader then
      release(ctx, conn, false)
      return nil, keep, "EPROTO"
    end
    local status, location = head.status, head.headers.location
    local changes = status == 303 and method ~= "HEAD"
                    or (status == 301 or status == 302) and method == "POST"
    local follow = REDIRECT[status] and location and max_redirects
                   and max_redirects > 0
                   and (changes or type(body_) ~= "function")
    if not follow then
      head.url, head.redirects = url.tostring(u), hops
      if opts.on_head then opts.on_head(head) end
      local got
      got, err, code = read_body(ctx, reader, length)
      if not got then
        release(ctx, conn, false)
        return nil, err, code
      end
      if conn.tls and not conn.info then conn.info = conn.sock:info() end
      release(ctx, conn, keep)
      local r = head
      r.tls = conn.info or nil
      r.body = not opts.sink and got or nil
      r.trailers = type(reader) == "table" and reader.trailers or nil
      return r
    end
    -- a redirect: drain its body (a little) to keep the connection
    local drained = body.readall(reader, ctx.limits.drain)
    release(ctx, conn, keep and drained ~= nil)
    if hops >= max_redirects then
      return nil, "too many redirects (" .. max_redirects .. ")", "ELOOP"
    end
    hops = hops + 1
    local nu
    nu, err, code = url.resolve(u, location)
    if not nu then return nil, "redirect to " .. location .. ": " .. err, code end
    if u.scheme == "https" and nu.scheme == "http" and not opts.allow_downgrade then
      return nil, "redirect from https to " .. url.tostring(nu)
                  .. " refused (allow_downgrade is not set)", "EPERM"
    end
    if changes then
      method = "GET"
      body_ = nil
      fields = without(fields, CONTENT_FIELDS)
    end
    if url.origin(nu) ~= url.origin(u) or nu.scheme ~= u.scheme then
      fields = without(fields, CREDENTIALS)
    end
    u = nu
  end
end

-- client.get(url[, opts]) -> response, or nil, msg, code: a GET request
-- with opts as for request.
function M.get(u, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'get' (table expected, got " .. type(opts) .. ")", 2)
  end
  if type(u) ~= "string" then
    error("bad argument #1 to 'get' (URL string expected, got " .. type(u) .. ")", 2)
  end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.url ~= nil then error("unknown option 'url' to 'http.get' (the URL is argument #1)", 2) end
  o.url, o.method = u, o.method or "GET"
  check_opts(o, "http.get")   -- so that a misuse names get, not request
  return M.request(o)
end

return M
