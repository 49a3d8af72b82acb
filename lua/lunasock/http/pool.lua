-- lunasock.http.pool: the HTTP client's connections and its keep-alive
-- pool.
--
--   pool.new{max_idle, max_total, idle_timeout} -> pool, with
--       pool:checkout(origin) -> an idle connection still usable, or nil
--       pool:checkin(conn)    keeps it for reuse (or closes it)
--       pool:idle_count([origin]), pool:close()
--   pool.connect(u, origin, opts, deadline) -> conn, or nil, msg, code
--
-- A connection has sock, stream, origin, reused and deadline: the stream
-- reads and writes through the connection, which sets the socket's
-- timeout to what is left before the deadline before each call, so a
-- server dripping bytes cannot stretch a request past it.
local lunasock = require "lunasock"
local stream = require "lunasock.stream"

local core = lunasock.core
local type, error, pairs, ipairs, tostring, setmetatable =
  type, error, pairs, ipairs, tostring, setmetatable
local remove = table.remove
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
-- from the server.
local function usable(c)
  if c.stream:buffered() > 0 then return false end
  local data, _, code = c.sock:recv(1, PEEK_NOW)
  return data == nil and (code == "EAGAIN" or code == "EWOULDBLOCK")
end

function M.connect(u, origin, opts, deadline)
  local t = opts.connect_timeout
  if t == nil then t = M.DEFAULTS.connect_timeout end
  if deadline then
    local rem = deadline - monotime()
    if rem <= 0 then return fail("request timed out", "ETIMEDOUT") end
    if not t or rem < t then t = rem end
  end
  local sock, err, code = lunasock.tcp.connect(u.host, u.port,
                                               {timeout = t or nil, nodelay = true})
  if not sock then return fail(origin .. ": " .. tostring(err), code) end
  local c = setmetatable({sock = sock, origin = origin, reused = false,
                          deadline = deadline, idle_since = 0}, Conn)
  c.stream = stream.new(c)
  return c
end

---------------------------------------------------------------- pool

local Pool = {__name = "lunasock.http.pool"}
Pool.__index = Pool

-- pool.new{max_idle, max_total, idle_timeout} -> a keep-alive pool
function M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'pool' (table expected)", 2)
  end
  opts = opts or {}
  local d = M.DEFAULTS
  return setmetatable({
    max_idle = opts.max_idle or d.max_idle,
    max_total = opts.max_total or d.max_total,
    idle_timeout = opts.idle_timeout or d.idle_timeout,
    idle = {},       -- origin -> idle connections, most recent last
    count = 0,
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

return M
