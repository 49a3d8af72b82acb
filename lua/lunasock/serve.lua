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

local error, type, pairs, xpcall, pcall, require, tostring, select =
  error, type, pairs, xpcall, pcall, require, tostring, select
local setmetatable = setmetatable
local debug_getmetatable = debug.getmetatable
local traceback, format, gsub = debug.traceback, string.format, string.gsub

local M = {}

M.BACKOFF_MIN = 0.01         -- seconds after the first failed accept
M.BACKOFF_MAX = 0.5          -- the back-off doubles up to this
M.HANDSHAKE_TIMEOUT = 10     -- seconds a TLS handshake may take

-- accept errors that mean the listener itself is unusable: the loop ends
-- (and says why), since retrying could only spin
local FATAL = {EBADF = true, EINVAL = true, ENOTSOCK = true, EFAULT = true}

-- The options serve takes (tcp.serve adds tcp.listen's).
M.OPTIONS = {timeout = true, tls = true, handshake_timeout = true,
             max_conns = true, stream = true, deferred = true}

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

-- One connection's record: server, sock (the accepted socket, then the
-- TLS one), stream (once made), task (the one serving it; false while
-- the connection is parked). In server.conns under sock. Closed (a
-- to-be-closed value of its task) whatever way the connection ends: the
-- handler returns or fails, or the task is cancelled. The stream (or the
-- socket) is closed, the count dropped, and an accept loop waiting at
-- max_conns woken. Parking (server:park) cancels the task too, and then
-- the record, without a task, is left alone.
local Session = {}
Session.__index = Session
function Session.__close(s)
  if not s.task then return end   -- parked: the connection stays open
  local server = s.server
  local st, sock = s.stream, s.sock
  s.stream, s.sock = false, false
  if st then
    pcall(st.close, st)   -- sends what the stream holds
  elseif sock then
    pcall(sock.close, sock)
  end
  if sock and server.conns[sock] == s then
    server.conns[sock] = nil
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

local resume   -- below: a parked connection's new task

-- M.PARK, returned by a handler: the connection stays open with no task
-- (see Server:park), and the handler is called again when input comes.
local PARK = setmetatable({}, {__name = "lunasock.serve.PARK"})
M.PARK = PARK

-- What a TLS socket holds that the descriptor does not show (its
-- pending(): plaintext decrypted or read ahead, which a recv returns
-- without the descriptor becoming readable; ciphertext the socket did not
-- take, which goes out only with the next call on it); 0, 0 for a plain
-- socket. A watch on the descriptor would wait for either forever.
local function tls_held(sock)
  local pending = sock.pending   -- lunasock.tls sockets have it
  if not pending then return 0, 0 end
  return pending(sock)
end

-- Parks s, whose task is ending (or was cancelled): the loop watches fd,
-- or, with input already buffered (pipelined, or read ahead by TLS) or
-- ciphertext still held by TLS (the handler's next call sends it), the
-- handler is called again at once. False, with nothing changed, when fd
-- cannot be watched (another task waits to read it): the caller then
-- closes the connection rather than leave it open with nothing to end it.
local function hold(s, fd)
  local input, output = tls_held(s.sock)
  if (s.stream and s.stream:buffered() > 0) or input > 0 or output > 0 then
    loop.spawn(resume, s)
  elseif not pcall(loop.watch, fd, resume, s) then
    return false
  end
  s.task = false
  s.server.parked = s.server.parked + 1
  return true
end

-- After the handler: its error reported, or its PARK honoured. What the
-- handler left in the stream's write buffer goes out first (nothing else
-- would send it before the peer's next input, which waits for it); a
-- connection that cannot be parked ends here (its task's <close>).
local function handled(s, ok, r)
  if not ok then
    report("lunasock.serve: handler failed: " .. r)
  elseif r == PARK and not s.server.closed then
    local sock, st = s.sock, s.stream
    if not st:flush() then return end   -- the peer went: the connection ends
    -- no input can come after the end of the peer's data: parked, the
    -- readable EOF would call the handler again at once, for ever
    if st:ended() and st:buffered() == 0 then return end
    local open, fd = pcall(sock.fileno, sock)
    if open and not hold(s, fd) then
      report("lunasock.serve: connection not parked (its socket is read by another task)")
    end
  end
end

local function session(s, host, port)
  local _ <close> = s
  local server = s.server
  if server.closed then return end
  if server.tls then
    local sock = s.sock
    local ts = handshake(server, sock)
    if not ts then return end
    server.conns[sock], server.conns[ts] = nil, s   -- under the socket the stream reads
    s.sock = ts
    if server.closed then return end
  end
  local st = stream.new(s.sock, server.stream_opts)
  s.stream = st
  handled(s, xpcall(server.handler, with_traceback, st, host, port))
end

-- A deferred connection's task (opts.deferred): input has come, or the
-- socket was closed (the server's close, or no input in time). The peer
-- address is asked of the socket now.
local function start(s)
  local server = s.server
  server.parked = server.parked - 1
  s.task = loop.current()
  local sock = s.sock
  local open, host, port = pcall(sock.getpeername, sock)
  if not open then
    local _ <close> = s
    return
  end
  if host == nil then port = nil end   -- the peer went: the handler will see it
  return session(s, host, port)
end

-- A parked connection's new task (see park): the handler again.
function resume(s)
  s.task = loop.current()
  local _ <close> = s
  local server = s.server
  server.parked = server.parked - 1
  if server.closed then return end
  -- closed while parked (by code other than the server's): the watch
  -- fired for the close, and there is nothing for the handler to read
  local sock = s.sock
  if not pcall(sock.fileno, sock) then return end
  handled(s, xpcall(server.handler, with_traceback, s.stream))
end

-- Deferred connections (opts.deferred) wait for their first input with
-- no task: watched by the loop, started by it (start). They all wait the
-- same time, so they expire in the order they came: a queue of records
-- and deadlines, and one task (expire_loop) that sleeps until the first
-- deadline and closes those that never sent anything.
local function defer(server, s, c)
  server.parked = server.parked + 1
  local n = server.dtail + 1
  server.dq[n], server.dwhen[n], server.dtail = s, loop.now() + server.deferred, n
  if n == server.dhead then loop.wake(server.expirer) end   -- the queue was empty
  loop.watch(c:fileno(), start, s)
end

local function expire_loop(server)
  local q, when = server.dq, server.dwhen
  while not server.closed do
    local h = server.dhead
    if h > server.dtail then
      server.dhead, server.dtail = 1, 0
      loop.suspend()
    else
      local left = when[h] - loop.now()
      if left > 0 then
        loop.sleep(left)
      else
        local s = q[h]
        q[h], when[h], server.dhead = nil, nil, h + 1
        local sock = s.sock
        if not s.task and not s.stream and sock then
          pcall(sock.close, sock)   -- no input yet: its task starts, and ends
        end
      end
    end
  end
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
        local s = setmetatable({server = server, sock = c, stream = false, task = false},
                               Session)
        server.conns[c] = s
        server.active = server.active + 1
        if server.deferred then
          defer(server, s, c)
        else
          s.task = loop.spawn(session, s, host, port)
        end
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
-- server's socket file is removed (if the path still names it).
function Server:close()
  if self.closed then return end
  self.closed = true
  self.sock:close()
  if self.paused then loop.wake(self.task) end
  if self.expirer then self.expirer:cancel() end
  -- shut down, not closed: a handler that was between two calls would
  -- otherwise raise "attempt to use a closed socket" on its next one
  -- (each session's task closes its stream and record as it ends; a
  -- parked or deferred connection's task starts, sees the server closed,
  -- and ends). Timeout 0 first: a TLS socket's shutdown flushes what it
  -- holds and would wait (up to 2 s each) on a peer that does not read
  for sock in pairs(self.conns) do
    pcall(sock.settimeout, sock, 0)
    pcall(sock.shutdown, sock, "rw")
  end
  if self.file then
    local st = core.stat(self.path, false)
    if st and st.type == "socket" and st.dev .. ":" .. st.ino == self.file then
      os.remove(self.path)
    end
  end
end

Server.__close = Server.close

-- server:connections() -> how many connections are open, and how many
-- of them are parked
function Server:connections()
  return self.active, self.parked
end

-- server:park(sock) -> true if it parked the connection on sock (the
-- socket its stream reads): its task, which must be waiting for input
-- and have nothing else to finish, is cancelled (as task:cancel: its
-- waits forgotten, its <close> variables closed) and the connection
-- stays open with no task: a record and its stream, watched by the loop
-- (loop.watch). When input comes, or the socket is closed, the handler is
-- called again in a new task, as handler(stream): it finds its own state
-- (the protocol's, kept by sock) and goes on. An idle connection then
-- costs no coroutine. Called from another task (a reaper); false when
-- there is no such connection, it is parked already, or the server is
-- closed. A handler can park its own connection: it returns M.PARK.
function Server:park(sock)
  local s = self.conns[sock]
  if self.closed or not s or not s.task or not s.stream then return false end
  local t = s.task
  if t:status() == "running" then error("park: a connection cannot park itself", 2) end
  -- output held in the stream: the task has something left to finish
  if s.stream:pending() > 0 then return false end
  local open, fd = pcall(sock.fileno, sock)
  if not open then return false end   -- closed: its task is about to end
  -- ciphertext held by TLS: the task waits to send it (nothing else would)
  if select(2, tls_held(sock)) > 0 then return false end
  s.task = false
  t:cancel()
  if not hold(s, fd) then
    -- the task is gone and nothing would end the connection: close it
    s.task = true
    Session.__close(s)
    return false
  end
  return true
end

function Server:__tostring()
  if self.path then return format("lunasock.server (unix %s)", self.path) end
  return format("lunasock.server (%s port %s)", tostring(self.host), tostring(self.port))
end

local function check_seconds(opts, name)
  local v = check.opt_seconds(opts, name, "serve", 3)
  return v
end

-- The TLS context for opts.tls: a server context as is; a table of
-- tls.context options made into one (mode "server"); nil, msg, code for
-- a bad one. A client context (or mode "client") raises: every handshake
-- would fail, each with an error that does not say why.
local function tls_context(spec)
  if spec == nil or spec == false then return false end
  if type(spec) ~= "table" then
    -- lunasock.tls locks its metatables (getmetatable gives a string):
    -- the type's name is read past the lock
    local mt = type(spec) == "userdata" and debug_getmetatable(spec)
    if not (mt and mt.__name == "lunasock.tls.context") then
      error(format("bad option 'tls' to 'serve' (a server tls.context or a table of its"
                   .. " options expected, got %s)", type(spec)), 3)
    end
    if spec:mode() ~= "server" then
      error("bad option 'tls' to 'serve' (a server tls.context expected, got a client one)", 3)
    end
    return spec
  end
  if spec.mode ~= nil and spec.mode ~= "server" then
    error(format("bad option 'tls' to 'serve' (mode must be \"server\", got %s)",
                 tostring(spec.mode)), 3)
  end
  local tls = require("lunasock.tls")   -- loaded only by TLS servers
  local o = {}
  for k, v in pairs(spec) do o[k] = v end
  o.mode = "server"
  -- a misuse (an unknown option) is passed on without the position inside
  -- this file: the door re-raises it at its caller
  local ok, ctx, err, code = pcall(tls.context, o)
  if not ok then error((gsub(tostring(ctx), "^[^\n:]*:%d+: ", "")), 0) end
  return ctx, err, code
end

-- serve.listener(sock, handler[, opts]) -> server: serves the connections
-- of a listening stream socket (TCP or unix). opts: timeout (seconds, for
-- each read and write of a connection), max_conns (at most this many
-- connections open: at the limit nothing more is accepted until one
-- ends), tls (a lunasock.tls context, or a table of its options),
-- handshake_timeout (default HANDSHAKE_TIMEOUT), stream (options for
-- stream.new; write_buffer defaults to true), deferred (seconds: the
-- task starts once the connection has input, and a connection with none
-- after that long is closed; for protocols where the client speaks
-- first: a silent connection costs no task). Returns nil, msg, code for
-- a TLS configuration that does not load. The tasks run in the loop:
-- call it inside a task, or before loop.run().
function M.listener(sock, handler, opts)
  local kind = core.type(sock)
  if kind ~= "socket" then
    error("bad argument #1 to 'listener' (listening socket expected, got "
          .. (kind or type(sock)) .. ")", 2)
  end
  if sock:getopt("acceptconn") ~= true then
    -- accept would fail on it (EINVAL, or EOPNOTSUPP for a datagram
    -- socket, which the accept loop would retry for ever)
    error("bad argument #1 to 'listener' (listening socket expected, got a "
          .. select(2, sock:socktype()) .. " socket not listening)", 2)
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
  local deferred = check_seconds(opts, "deferred")
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
    tls = ctx, stream_opts = stream_opts, closed = false, paused = false, parked = 0,
    deferred = deferred or false,
  }, Server)
  if deferred then
    server.dq, server.dwhen, server.dhead, server.dtail = {}, {}, 1, 0
    server.expirer = loop.spawn(expire_loop, server)
  end
  local host, port = sock:getsockname()
  if sock:family() == core.AF_UNIX then
    server.path = host
    -- the file bound now, so that close removes that file only: another
    -- server may have its own socket at path by then
    local st = host ~= "" and host:sub(1, 1) ~= "\0" and core.stat(host, false)
    server.file = st and st.type == "socket" and (st.dev .. ":" .. st.ino) or false
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
