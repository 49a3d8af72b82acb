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
local lunasock = require "lunasock"
local stream = require "lunasock.stream"
local body = require "lunasock.http.body"
local url = require "lunasock.http.url"

local core = lunasock.core
local find, match, sub, lower, gmatch, format, byte =
  string.find, string.match, string.sub, string.lower, string.gmatch,
  string.format, string.byte
local concat, sort, remove = table.concat, table.sort, table.remove
local type, error, pairs, ipairs, tostring, setmetatable, tointeger =
  type, error, pairs, ipairs, tostring, setmetatable, math.tointeger
local rawget, tonumber, getmetatable, math_type = rawget, tonumber,
                                                  getmetatable, math.type
local monotime = core.monotime
local PEEK_NOW = core.MSG_PEEK | core.MSG_DONTWAIT

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

M.POOL_DEFAULTS = {
  max_idle = 8,         -- idle connections kept per host:port (and TLS
                        -- settings)
  max_total = 64,       -- idle connections kept in all
  idle_timeout = 30,    -- seconds an idle connection may be reused after
}

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

local TCHAR = "[!#$%%&'*+%-.^_`|~%w]"
local TOKEN = "^" .. TCHAR .. "+$"
local FIELD = "^(" .. TCHAR .. "+):[ \t]*(.-)[ \t]*$"
local CTL = "[%z\1-\8\10-\31\127]"   -- controls other than HTAB

local function fail(msg, code)
  return nil, msg, code
end

---------------------------------------------------------------- headers

local Headers = {__name = "lunasock.http.headers"}
function Headers.__index(t, k)
  if type(k) == "string" then return rawget(t, lower(k)) end
end

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
    error("bad field 'headers' (table expected, got " .. type(headers) .. ")", 3)
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

local function has_token(value, token)
  if not value then return false end
  for t in gmatch(lower(value), "[^,%s]+") do
    if t == token then return true end
  end
  return false
end

---------------------------------------------------------------- connections

-- A connection: the socket, a stream over it and the deadline of the
-- request using it. The stream reads and writes through the connection,
-- which sets the socket's timeout to what is left before each call.
local Conn = {__name = "lunasock.http.connection"}
Conn.__index = Conn

-- The socket, its timeout set to what is left before the deadline; or
-- nil, msg, "ETIMEDOUT" once that has passed.
local function armed(self)
  local d, sock = self.deadline, self.sock
  local t = d and d - monotime()
  if t and t <= 0 then return fail("request timed out", "ETIMEDOUT") end
  sock:settimeout(t)
  return sock
end

function Conn:recv(n, flags)
  local sock, err, code = armed(self)
  if not sock then return nil, err, code end
  return sock:recv(n, flags)
end

function Conn:send(data, flags)
  local sock, err, code = armed(self)
  if not sock then return nil, err, code end
  return sock:send(data, flags)
end

function Conn.settimeout(_) end

function Conn:close()
  return self.sock:close()
end

function Conn:__tostring()
  return "lunasock.http.connection (" .. tostring(self.sock) .. ")"
end

-- Whether an idle connection can carry a request: nothing buffered or
-- waiting (a server sends nothing between responses) and no EOF or error
-- from the server. On a TLS socket the peek takes in the records that
-- carry no data (a session ticket), which leave it usable; data,
-- close_notify or an EOF without it (TLS_TRUNCATED) end it.
local function usable(c)
  if c.stream:buffered() > 0 then return false end
  local data, _, code = c.sock:recv(1, PEEK_NOW)
  return data == nil and (code == "EAGAIN" or code == "EWOULDBLOCK")
end

---------------------------------------------------------------- TLS

-- TLS settings: nil, true (the defaults), a table of context options or
-- a tls.context (the only userdata accepted: checked when it is used).
local function check_tls(t, level)
  local ty = type(t)
  if t ~= nil and t ~= true and ty ~= "table" and ty ~= "userdata" then
    error("bad field 'tls' (table of TLS options or tls.context expected, got "
          .. ty .. ")", level)
  end
end

-- TLS settings (a table of context options or a tls.context) -> the
-- context and a key naming them. Contexts made from tables are kept by
-- key, so equal tables share one context (and its CA store, loaded
-- once); a given context is named by an id of its own, never reused, so
-- a session is offered only under the settings that made it.
local contexts, ncontexts = {}, 0
local MAX_CONTEXTS = 32
local context_ids = setmetatable({}, {__mode = "k"})
local next_id = 0

local function settings_key(t)
  local out = {}
  for k, v in pairs(t) do
    if type(v) == "table" then
      v = "{" .. settings_key(v) .. "}"
    elseif type(v) == "string" then
      v = format("%q", v)
    else
      v = tostring(v)
    end
    out[#out + 1] = format("%q", k) .. "=" .. v
  end
  sort(out)
  return concat(out, ",")
end

local function tls_context(settings)
  if type(settings) ~= "table" then
    local id = context_ids[settings]
    if not id then
      next_id = next_id + 1
      id = "#" .. next_id
      context_ids[settings] = id
    end
    return settings, id
  end
  local key = settings_key(settings)
  local ctx = contexts[key]
  if not ctx then
    local tls = require "lunasock.tls"   -- loaded with the first https://
    local err, code
    ctx, err, code = tls.context(settings)
    if not ctx then return nil, err, code end
    if ncontexts >= MAX_CONTEXTS then contexts, ncontexts = {}, 0 end
    contexts[key], ncontexts = ctx, ncontexts + 1
  end
  return ctx, key
end

-- The pool key of u: "host:port" for http://; for https:// the scheme and
-- the TLS settings too, so that a connection made under one set of
-- settings never serves a request made under another. Returns the key and
-- the context (nil for http://), or nil, msg, code.
local function conn_key(ctx, u)
  local origin = url.origin(u)
  if u.scheme ~= "https" then return origin end
  local settings = ctx.opts.tls
  if settings == nil and ctx.pool then settings = ctx.pool.tls end
  if settings == nil then settings = M.DEFAULTS.tls end
  if settings == nil or settings == true then settings = {} end
  local tctx, key, code = tls_context(settings)
  if not tctx then return nil, key, code end
  return "https://" .. origin .. " " .. key, tctx
end

-- Keeps the TLS session of c in its pool, for the next connection made
-- under the same key to resume. Taken when c is given back, not after
-- the handshake: TLS 1.3 sends its session tickets after the handshake.
local MAX_SESSIONS = 256
local function keep_session(pool, c)
  if not (pool and c.tls) then return end
  local sess = c.sock:session()
  if not sess then return end
  local sessions = pool.sessions
  if not sessions[c.origin] then
    if pool.nsessions >= MAX_SESSIONS then
      sessions = {}
      pool.sessions, pool.nsessions = sessions, 0
    end
    pool.nsessions = pool.nsessions + 1
  end
  sessions[c.origin] = sess
end

local function connect(u, origin, opts, deadline, tctx, session)
  local t = opts.connect_timeout
  if t == nil then t = M.DEFAULTS.connect_timeout end
  if deadline then
    local rem = deadline - monotime()
    if rem <= 0 then return fail("request timed out", "ETIMEDOUT") end
    if not t or rem < t then t = rem end
  end
  local sock, err, code = lunasock.tcp.connect(u.host, u.port,
                                               {timeout = t or nil, nodelay = true,
                                                tls = tctx, session = session})
  if not sock then return fail(url.origin(u) .. ": " .. tostring(err), code) end
  local c = setmetatable({sock = sock, origin = origin, reused = false,
                          deadline = deadline, idle_since = 0,
                          tls = tctx and true or false}, Conn)
  c.stream = stream.new(c)
  return c
end

---------------------------------------------------------------- pool

local Pool = {__name = "lunasock.http.pool"}
Pool.__index = Pool

-- client.pool{max_idle, max_total, idle_timeout, tls} -> a keep-alive
-- pool; tls: the TLS settings of https:// requests made through it that
-- give none of their own
function M.pool(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'pool' (table expected)", 2)
  end
  opts = opts or {}
  check_tls(opts.tls, 3)
  local d = M.POOL_DEFAULTS
  return setmetatable({
    max_idle = opts.max_idle or d.max_idle,
    max_total = opts.max_total or d.max_total,
    idle_timeout = opts.idle_timeout or d.idle_timeout,
    tls = opts.tls,  -- TLS settings for https:// requests through it
    idle = {},       -- key -> idle connections, most recent last
    count = 0,
    sessions = {},   -- key -> the last TLS session seen
    nsessions = 0,
  }, Pool)
end

-- pool:checkout(origin) -> an idle connection to origin that is still
-- usable, or nil. Stale and expired ones met on the way are closed.
function Pool:checkout(origin)
  local list = self.idle[origin]
  if not list then return nil end
  local now = monotime()
  while #list > 0 do
    local c = remove(list)
    self.count = self.count - 1
    if now - c.idle_since <= self.idle_timeout and usable(c) then
      if #list == 0 then self.idle[origin] = nil end
      c.reused = true
      return c
    end
    c:close()
  end
  self.idle[origin] = nil
  return nil
end

-- Closes the idle connections past the idle timeout.
function Pool:prune()
  local now = monotime()
  for origin, list in pairs(self.idle) do
    local keep = {}
    for _, c in ipairs(list) do
      if now - c.idle_since > self.idle_timeout then
        c:close()
        self.count = self.count - 1
      else
        keep[#keep + 1] = c
      end
    end
    self.idle[origin] = #keep > 0 and keep or nil
  end
end

-- pool:checkin(c): keeps c for reuse, or closes it when the pool is full.
function Pool:checkin(c)
  self:prune()
  local list = self.idle[c.origin]
  if self.count >= self.max_total or (list and #list >= self.max_idle)
     or c.stream:buffered() > 0 then
    c:close()
    return
  end
  if not list then
    list = {}
    self.idle[c.origin] = list
  end
  c.deadline = nil
  c.idle_since = monotime()
  list[#list + 1] = c
  self.count = self.count + 1
end

-- pool:idle_count([origin]) -> idle connections kept (to origin)
function Pool:idle_count(origin)
  if origin == nil then return self.count end
  local list = self.idle[origin]
  return list and #list or 0
end

-- pool:close(): closes every idle connection
function Pool:close()
  for _, list in pairs(self.idle) do
    for _, c in ipairs(list) do c:close() end
  end
  self.idle, self.count = {}, 0
end

Pool.__close = Pool.close
M.Pool = Pool

M.default_pool = M.pool()

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

-- Reads one response head. Returns a head table, or nil, msg, code,
-- silent where silent is true when the server sent nothing at all (the
-- sign of a keep-alive connection it had closed).
local function read_head(ctx, conn)
  local st, o = conn.stream, ctx.limits
  st.max_line = o.max_status_line
  local line, err, code, partial = st:readline()
  if not line then
    if code == "EMSGSIZE" then return fail("status line too long", "EMSGSIZE") end
    local silent = partial == nil and (code == "EOF" or code == "ECONNRESET"
                                       or code == "TLS_TRUNCATED")
    if code == "EOF" then
      err, code = "connection closed before the response", "closed"
    end
    return nil, err, code, silent
  end
  if #line > o.max_status_line then return fail("status line too long", "EMSGSIZE") end
  local major, minor, status, rest = match(line, "^HTTP/(%d)%.(%d) ([1-5]%d%d)(.*)$")
  if not major or (rest ~= "" and sub(rest, 1, 1) ~= " ") or find(rest, CTL) then
    return fail("malformed status line", "EPROTO")
  end
  if major ~= "1" then
    return fail("unsupported HTTP version " .. major .. "." .. minor, "EPROTO")
  end
  local headers, fields = setmetatable({}, Headers), {}
  local size, last = #line + 2, nil
  st.max_line = o.max_head
  while true do
    line, err, code = st:readline()
    if not line then
      if code == "EMSGSIZE" then return fail("response head too large", "EMSGSIZE") end
      if code == "EOF" then err, code = "connection closed in the response head", "closed" end
      return nil, err, code
    end
    size = size + #line + 2
    if size > o.max_head then return fail("response head too large", "EMSGSIZE") end
    if line == "" then break end
    local c = byte(line, 1)
    if c == 32 or c == 9 then
      -- obs-fold: a user agent replaces it with a space (RFC 9112 5.2)
      if not last or find(line, CTL) then return fail("malformed header field", "EPROTO") end
      local more = match(line, "^[ \t]*(.-)[ \t]*$")
      last[2] = last[2] .. " " .. more
    else
      local name, value = match(line, FIELD)
      if not name or find(value, CTL) then
        return fail("malformed header field", "EPROTO")
      end
      if #fields >= o.max_headers then return fail("too many header fields", "EMSGSIZE") end
      last = {name, value}
      fields[#fields + 1] = last
    end
  end
  for _, f in ipairs(fields) do
    local lname = lower(f[1])
    local old = headers[lname]
    headers[lname] = old and (old .. ", " .. f[2]) or f[2]
  end
  return {status = tointeger(status), reason = sub(rest, 2),
          version = major .. "." .. minor, headers = headers, fields = fields}
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
    if not match(lower(te), "^[ \t]*chunked[ \t]*$") then
      return fail("unsupported transfer coding: " .. te, "EPROTO")
    end
    return "chunked"
  end
  if cl then
    local n
    for part in gmatch(cl .. ",", "([^,]*),") do
      part = match(part, "^[ \t]*(.-)[ \t]*$")
      if not find(part, "^%d+$") or #part > 15 then
        return fail("malformed Content-Length", "EPROTO")
      end
      local v = tointeger(tonumber(part))
      if n and v ~= n then return fail("conflicting Content-Length values", "EPROTO") end
      n = v
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

-- The reader for head's body and whether the connection may be kept.
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
  keep_session(ctx.pool, conn)
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
  local key, tctx, kcode = conn_key(ctx, u)
  if not key then return nil, tctx, kcode end
  local fresh = false
  while true do
    local conn = not fresh and ctx.pool and ctx.pool:checkout(key)
    if conn then
      conn.deadline = ctx.deadline
    else
      local err, code
      conn, err, code = connect(u, key, ctx.opts, ctx.deadline, tctx,
                                ctx.pool and ctx.pool.sessions[key] or nil)
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

-- Reads the body through reader into the sink, or into a string.
local function read_body(ctx, reader)
  local sink = ctx.opts.sink
  if not sink then return body.readall(reader, ctx.limits.max_body or nil) end
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

local function check_opts(opts)
  if type(opts.url) ~= "string" then
    error("bad field 'url' (string expected, got " .. type(opts.url) .. ")", 3)
  end
  local m = opts.method
  if m ~= nil and (type(m) ~= "string" or not find(m, TOKEN)) then
    error("bad field 'method' (a method token expected)", 3)
  end
  local b = opts.body
  if b ~= nil and type(b) ~= "string" and type(b) ~= "function" then
    error("bad field 'body' (string or function expected, got " .. type(b) .. ")", 3)
  end
  if opts.sink ~= nil and type(opts.sink) ~= "function" then
    error("bad field 'sink' (function expected)", 3)
  end
  if opts.on_head ~= nil and type(opts.on_head) ~= "function" then
    error("bad field 'on_head' (function expected)", 3)
  end
  for _, k in ipairs{"timeout", "connect_timeout"} do
    local v = opts[k]
    if v ~= nil and v ~= false and (type(v) ~= "number" or v ~= v or v < 0) then
      error("bad field '" .. k .. "' (non-negative number or false expected)", 3)
    end
  end
  local r = opts.redirects
  if r ~= nil and r ~= false and math_type(r) ~= "integer" then
    error("bad field 'redirects' (integer or false expected)", 3)
  end
  local p = opts.pool
  if p ~= nil and p ~= false and getmetatable(p) ~= Pool then
    error("bad field 'pool' (a client.pool, false or nil expected)", 3)
  end
  check_tls(opts.tls, 4)
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
  check_opts(opts)
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
  local pool = opts.pool
  if pool == nil then pool = M.default_pool end
  if has_token(find_field(fields, "connection"), "close") then pool = false end
  local max_redirects = opts.redirects
  if max_redirects == nil then max_redirects = M.DEFAULTS.redirects end
  local ctx <close> = setmetatable({
    opts = opts, pool = pool, limits = limits_of(opts), conn = nil,
    deadline = timeout and monotime() + timeout or nil,
  }, Guard)
  local hops = 0
  while true do
    local head, conn, xcode = exchange(ctx, method, u, fields, body_)
    if not head then return nil, conn, xcode end
    local reader, keep = body_reader(conn, method, head)
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
      got, err, code = read_body(ctx, reader)
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
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.url, o.method = u, o.method or "GET"
  if type(u) ~= "string" then
    error("bad argument #1 to 'get' (URL string expected, got " .. type(u) .. ")", 2)
  end
  return M.request(o)
end

return M
