-- lunasock.http.pool: the HTTP client's connections and its keep-alive
-- pool.
--
--   pool.new{max_idle, max_total, idle_timeout, tls} -> pool, with
--       pool:checkout(key) -> an idle connection still usable, or nil
--       pool:checkin(conn)    keeps it for reuse (or closes it)
--       pool:idle_count([key]), pool:close()
--       pool.tls             TLS settings for https:// requests through it
--       pool:session(key), pool:keep_session(conn)  TLS sessions to resume
--   pool.key(u, settings) -> key, context (nil for http://), or nil, msg,
--       code: where a connection to u under TLS settings is pooled
--   pool.connect(u, key, opts, deadline[, context, session]) -> conn, or
--       nil, msg, code (with a context: TLS, the handshake done)
--
-- A connection has sock, stream, origin (its key), reused, deadline and
-- tls (true for TLS): the stream
-- reads and writes through the connection, which sets the socket's
-- timeout to what is left before the deadline before each call, so a
-- server dripping bytes cannot stretch a request past it.
local lunasock = require "lunasock"
local stream = require "lunasock.stream"
local check = require "lunasock.check"
local url = require "lunasock.http.url"

local core = lunasock.core
local type, error, pairs, ipairs, tostring, setmetatable =
  type, error, pairs, ipairs, tostring, setmetatable
local remove, sort, concat = table.remove, table.sort, table.concat
local format = string.format
local monotime = core.monotime
local PEEK_NOW = core.MSG_PEEK | core.MSG_DONTWAIT

local M = {}

M.DEFAULTS = {
  max_idle = 8,         -- idle connections kept per host:port
  max_total = 64,       -- idle connections kept in all
  idle_timeout = 30,    -- seconds an idle connection may be reused after
  connect_timeout = 10, -- seconds for one connection
}

local function fail(msg, code)
  return nil, msg, code
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

-- pool.check_tls(t, level[, fname]): raises unless t is TLS settings: nil, true
-- (the defaults), a table of client context options or a client
-- tls.context (a server's would fail every handshake).
function M.check_tls(t, level, fname)
  local ty, why = type(t), nil
  if t ~= nil and t ~= true and ty ~= "table" and ty ~= "userdata" then
    why = "table of TLS options or tls.context expected, got " .. ty
  elseif ty == "table" and t.mode ~= nil and t.mode ~= "client" then
    why = "mode must be \"client\", got " .. tostring(t.mode)
  elseif ty == "userdata" then
    local tls = require "lunasock.tls"   -- loaded already: t is one of its contexts
    if tls.type(t) ~= "tls context" then
      why = "table of TLS options or tls.context expected, got " .. (tls.type(t) or ty)
    elseif t:mode() ~= "client" then
      why = "a client tls.context expected, got a server one"
    end
  end
  if why then
    error("bad option 'tls' to '" .. (fname or "client.pool") .. "' (" .. why .. ")", level + 1)
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

-- The key of u: "host:port" for http://; for https:// the scheme and the
-- TLS settings (nil or true: the defaults) too, so that a connection made
-- under one set of settings never serves a request made under another.
function M.key(u, settings)
  local origin = url.origin(u)
  if u.scheme ~= "https" then return origin end
  if settings == nil or settings == true then settings = {} end
  local ctx, key, code = tls_context(settings)
  if not ctx then return nil, key, code end
  return "https://" .. origin .. " " .. key, ctx
end

function M.connect(u, origin, opts, deadline, tctx, session)
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

local OPTIONS = {max_idle = true, max_total = true, idle_timeout = true, tls = true}

-- pool.new{max_idle, max_total, idle_timeout, tls} -> a keep-alive pool;
-- tls: the TLS settings of https:// requests through it that give none
function M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'pool' (table expected)", 2)
  end
  opts = check.known(opts or {}, "client.pool", OPTIONS)
  check.opt_integer(opts, "max_idle", "client.pool", 0, 0x7fffffff)
  check.opt_integer(opts, "max_total", "client.pool", 0, 0x7fffffff)
  check.opt_seconds(opts, "idle_timeout", "client.pool")
  M.check_tls(opts.tls, 2)
  local d = M.DEFAULTS
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

-- pool:session(key) -> the TLS session to resume for key, or nil
function Pool:session(key)
  return self.sessions[key]
end

-- pool:keep_session(c): keeps the TLS session of c for the next
-- connection under its key. Taken when c is given back, not after the
-- handshake: TLS 1.3 sends its session tickets after the handshake.
local MAX_SESSIONS = 256
function Pool:keep_session(c)
  if not c.tls then return end
  local sess = c.sock:session()
  if not sess then return end
  if not self.sessions[c.origin] then
    if self.nsessions >= MAX_SESSIONS then self.sessions, self.nsessions = {}, 0 end
    self.nsessions = self.nsessions + 1
  end
  self.sessions[c.origin] = sess
end

-- pool:idle_count([key]) -> idle connections kept (to key)
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

return M
