-- lunasock.serve: the accept loop, the one every server in lunasock runs
-- (lunasock.tcp.serve and lunasock.unix.serve are this on a new
-- listener; echo, chat and HTTP are built on it).
--
-- One task accepts; each connection gets a task of its own that runs
-- handler(stream, peer_host, peer_port) and closes the stream when the
-- handler returns or fails. A failure is reported (loop.on_error: stderr,
-- with a traceback) and ends that connection only. An accept that fails
-- for want of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) or for one
-- connection's sake (ECONNABORTED, EPROTO, EPERM, network errors) is
-- retried after a back-off that grows from BACKOFF_MIN to BACKOFF_MAX:
-- the pending connections wait in the kernel's backlog, and the sessions
-- already open go on. Only closing the listener ends the accept loop.
local core = require "lunasock.core"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local check = require "lunasock.check"

local error, type, pairs, xpcall, pcall, require, tostring =
  error, type, pairs, xpcall, pcall, require, tostring
local setmetatable = setmetatable
local debug_getmetatable = debug.getmetatable
local traceback, format = debug.traceback, string.format

local M = {}

M.BACKOFF_MIN = 0.01         -- seconds after the first failed accept
M.BACKOFF_MAX = 0.5          -- the back-off doubles up to this
M.HANDSHAKE_TIMEOUT = 10     -- seconds a TLS handshake may take

-- accept errors that mean the listener itself is unusable: the loop ends
-- (and says why), since retrying could only spin
local FATAL = {EBADF = true, EINVAL = true, ENOTSOCK = true, EFAULT = true}

-- The options serve takes (tcp.serve adds tcp.listen's).
M.OPTIONS = {timeout = true, tls = true, handshake_timeout = true,
             max_conns = true, stream = true}

local Server = {}
Server.__index = Server
Server.__name = "lunasock.server"

local function report(message)
  local ok = pcall(loop.on_error, loop.current(), message)
  if not ok then io.stderr:write(message, "\n") end
end

local function with_traceback(err)
  if type(err) ~= "string" then err = "(error object is a " .. type(err) .. " value)" end
  return traceback(err, 2)
end

-- One connection's record, closed (a to-be-closed value of its task)
-- whatever way the connection ends: the handler returns or fails, or the
-- task is cancelled. The stream (or the socket) is closed, the count
-- dropped, and an accept loop waiting at max_conns woken.
local Session = {}
Session.__index = Session
function Session.__close(s)
  local server = s.server
  local st, sock = s.stream, s.sock
  s.stream, s.sock = false, false
  if st then
    pcall(st.close, st)   -- sends what the stream holds
  elseif sock then
    pcall(sock.close, sock)
  end
  if server.conns[s] then
    server.conns[s] = nil
    server.active = server.active - 1
    if server.paused then loop.wake(server.task) end
  end
end

-- The TLS handshake of one connection, in its own task: the TLS socket,
-- or nil (the failure closed the connection).
local function handshake(server, sock)
  local tls = require("lunasock.tls")   -- loaded only by TLS servers
  local ts = tls.wrap(sock, server.tls, {timeout = server.handshake_timeout})
  if not ts then
    sock:close()
    return nil
  end
  ts:settimeout(server.timeout)
  return ts
end

local function session(s, host, port)
  local _ <close> = s
  local server = s.server
  if server.closed then return end
  if server.tls then
    local ts = handshake(server, s.sock)
    if not ts then return end
    s.sock = ts
    if server.closed then return end
  end
  local st = stream.new(s.sock, server.stream_opts)
  s.stream = st
  local ok, err = xpcall(server.handler, with_traceback, st, host, port)
  if not ok then report("lunasock.serve: handler failed: " .. err) end
end

local function accept_loop(server)
  local l, backoff = server.sock, M.BACKOFF_MIN
  local max = server.max_conns
  while not server.closed do
    if max and server.active >= max then
      server.paused = true        -- at the limit: accept nothing more
      loop.suspend()
      server.paused = false
    elseif core.type(l) ~= "socket" then
      return                      -- the listener was closed directly
    else
      local c, host, port = l:accept()
      if c then
        backoff = M.BACKOFF_MIN
        if server.closed then c:close() return end
        local s = setmetatable({server = server, sock = c, stream = false}, Session)
        server.conns[s] = true
        server.active = server.active + 1
        loop.spawn(session, s, host, port)
      elseif server.closed or core.type(l) ~= "socket" then
        return
      elseif FATAL[port] then
        report(format("lunasock.serve: accept failed: %s (%s); the server stops",
                      tostring(host), tostring(port)))
        return
      elseif port ~= "ETIMEDOUT" and port ~= "EAGAIN" then
        loop.sleep(backoff)       -- out of descriptors or memory, mostly
        backoff = backoff * 2
        if backoff > M.BACKOFF_MAX then backoff = M.BACKOFF_MAX end
      end
    end
  end
end

-- server:close(): stops accepting and ends every connection: their
-- handlers see reads return EOF and writes fail (nil, msg, "EPIPE"), and
-- end; a handler's task closes its own connection when it returns. A unix
-- server's socket file is removed.
function Server:close()
  if self.closed then return end
  self.closed = true
  self.sock:close()
  if self.paused then loop.wake(self.task) end
  -- shut down, not closed: a handler that was between two calls would
  -- otherwise raise "attempt to use a closed socket" on its next one
  -- (each session's task closes its stream and record as it ends).
  -- Timeout 0 first: a TLS socket's shutdown flushes what it holds and
  -- would wait (up to 2 s each) on a peer that does not read
  for s in pairs(self.conns) do
    local sock = s.sock
    if sock then
      pcall(sock.settimeout, sock, 0)
      pcall(sock.shutdown, sock, "rw")
    end
  end
  if self.path and self.path:sub(1, 1) ~= "\0" then os.remove(self.path) end
end

Server.__close = Server.close

-- server:connections() -> how many connections are open
function Server:connections()
  return self.active
end

function Server:__tostring()
  if self.path then return format("lunasock.server (unix %s)", self.path) end
  return format("lunasock.server (%s port %s)", tostring(self.host), tostring(self.port))
end

local function check_seconds(opts, name)
  local v = check.opt_seconds(opts, name, "serve", 3)
  return v
end

-- The TLS context for opts.tls: a context as is; a table of tls.context
-- options made into one (mode "server"); nil, msg, code for a bad one.
local function tls_context(spec)
  if spec == nil or spec == false then return false end
  if type(spec) ~= "table" then
    -- lunasock.tls locks its metatables (getmetatable gives a string):
    -- the type's name is read past the lock
    local mt = type(spec) == "userdata" and debug_getmetatable(spec)
    if mt and mt.__name == "lunasock.tls.context" then return spec end
    error("bad option 'tls' to 'serve' (a lunasock.tls context or a table of options expected)", 3)
  end
  local tls = require("lunasock.tls")   -- loaded only by TLS servers
  local o = {}
  for k, v in pairs(spec) do o[k] = v end
  if o.mode == nil then o.mode = "server" end
  return tls.context(o)
end

-- serve.listener(sock, handler[, opts]) -> server: serves the connections
-- of a listening stream socket (TCP or unix). opts: timeout (seconds, for
-- each read and write of a connection), max_conns (at most this many
-- connections open: at the limit nothing more is accepted until one
-- ends), tls (a lunasock.tls context, or a table of its options),
-- handshake_timeout (default HANDSHAKE_TIMEOUT), stream (options for
-- stream.new; write_buffer defaults to true). Returns nil, msg, code for
-- a TLS configuration that does not load. The tasks run in the loop:
-- call it inside a task, or before loop.run().
function M.listener(sock, handler, opts)
  local kind = core.type(sock)
  if kind ~= "socket" then
    error("bad argument #1 to 'listener' (listening socket expected, got "
          .. (kind or type(sock)) .. ")", 2)
  end
  if type(handler) ~= "function" then
    error("bad argument #2 to 'listener' (function expected, got " .. type(handler) .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #3 to 'listener' (table expected, got " .. type(opts) .. ")", 2)
  end
  opts = check.known(opts or {}, "serve.listener", M.OPTIONS)
  local max = check.opt_integer(opts, "max_conns", "serve", 1, 0x7fffffff)
  local timeout = check_seconds(opts, "timeout")
  local hs = check_seconds(opts, "handshake_timeout") or M.HANDSHAKE_TIMEOUT
  if opts.stream ~= nil and type(opts.stream) ~= "table" then
    error("bad option 'stream' to 'serve' (table of stream.new options expected)", 2)
  end
  local stream_opts = {write_buffer = true}
  for k, v in pairs(opts.stream or {}) do stream_opts[k] = v end
  if timeout and stream_opts.timeout == nil then stream_opts.timeout = timeout end
  stream_opts = stream.options(stream_opts, "serve")  -- checked once, here
  local ctx, err, code = tls_context(opts.tls)
  if ctx == nil then return nil, err, code end
  local server = setmetatable({
    sock = sock, handler = handler, conns = {}, active = 0,
    max_conns = max or false, timeout = timeout, handshake_timeout = hs,
    tls = ctx, stream_opts = stream_opts, closed = false, paused = false,
  }, Server)
  local host, port = sock:getsockname()
  if sock:family() == core.AF_UNIX then
    server.path = host
  else
    server.host, server.port = host, port
  end
  server.task = loop.spawn(accept_loop, server)
  return server
end

-- serve.tls_context(spec) -> the server context for a tls option as
-- listener takes it (a context, or a table of tls.context options), false
-- for none, or nil, msg, code: for a caller that must check it early (a
-- prefork server, before its workers start).
M.tls_context = tls_context

M.Server = Server
return M
