-- lunasock.http.server: an HTTP/1.1 server on lunasock.loop, one task per
-- connection.
--
--   local srv = server.new{host = "127.0.0.1", port = 8080,
--                          handler = function(req) return 200, nil, "hi\n" end}
--   loop.run()
--
-- One request, top-down: serve_conn reads it (lunasock.http.request),
-- calls the handler, sends what it returned (lunasock.http.response),
-- drops what is left of its body, and loops for the next one on the
-- connection, or closes it (lingering after an error response). The
-- common case (a GET with no body, answered with a status and a string)
-- runs the same steps in C, in one call that loops until a request or
-- an answer is anything else (server.cycle, csrc/http_cycle.c: see
-- requests below).
--
-- A handler gets the request (lunasock.http.request) and returns status,
-- headers, body, where body is a string, a Lua file (read to its end, or
-- Content-Length bytes, and closed), a function returning pieces until
-- nil, or nil. Or it streams: req:respond(status, headers) -> writer
-- (w:write(s), w:finish()).
--
-- Connections are accepted by lunasock.tcp.serve (lunasock.serve: the
-- one accept loop, TLS, max_conns), which runs serve_conn per connection
-- and closes its stream after it. The answers to pipelined requests are
-- held while more requests are buffered and leave in one send.
--
-- Timeouts without a timer per request: a reaper task wakes every TICK
-- seconds, refreshes a coarse clock and shuts down connections past their
-- deadline (idle keep-alive, the whole head, the linger after an error);
-- the connection's task then wakes from its read and ends (a connection
-- still there a tick later, stuck writing to a client that reads
-- nothing, is shut down both ways). Bodies and response writes use the
-- socket timeout (body_timeout: the longest wait for one read or write)
-- and, as a whole, request_timeout (the reaper again).
--
-- Idle keep-alive connections hold no task: one that waited a whole tick
-- for its next request is parked (lunasock.serve's park: its task ends,
-- the loop watches its socket) and serve_conn runs again, in a new task,
-- when input comes. A parked connection costs its socket, its stream and
-- two small records, not a coroutine; a busy one never parks, unless
-- more than BUSY_TASKS connections hold a task (server.tasks): then one
-- with nothing to read parks as soon as it has answered.
--
-- The connection record the request and response modules share: server,
-- sock, stream, peer; deadline (while waiting for a head or lingering;
-- false otherwise: for the reaper), timed_out
-- (the reaper ended the wait), closing (close after this response), timed
-- and phase_end (the body phase); buf and pos (the head buffer), slow
-- (heads are read through the stream) and body (this request has one),
-- owned by request.lua; out (answers held) and special (this request's
-- handler streamed, or its body failed), by response.lua; seen (the
-- deadline the reaper saw last tick) and parked (no task), by the reaper.
-- server.plain:
-- its sockets are core sockets (not TLS).
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local serve = require "lunasock.serve"
local check = require "lunasock.check"
local request = require "lunasock.http.request"
local response = require "lunasock.http.response"

local core = lunasock.core
local format, gsub = string.format, string.gsub
local pack, unpack = table.pack, table.unpack
local type, pairs, ipairs, tostring, setmetatable, getmetatable, error, xpcall, pcall =
  type, pairs, ipairs, tostring, setmetatable, getmetatable, error, xpcall, pcall
local debug_getmetatable = debug.getmetatable
local math_type = math.type
local os_date, io_type, traceback = os.date, io.type, debug.traceback
local monotime = core.monotime
local read_request, send_response, finish_body = request.read, response.send,
                                                 request.finish_body
local PARK = serve.PARK

local M = {}


M.DEFAULTS = {
  max_request_line = 8192,      -- bytes: 414 past it
  max_head = 32768,             -- bytes of request line and fields: 431
  max_headers = 100,            -- fields: 431
  max_body = 10 * 1024 * 1024,  -- bytes (false: none): 413
  header_timeout = 10,          -- seconds for the whole head
  idle_timeout = 60,            -- seconds between keep-alive requests
  body_timeout = 30,            -- seconds one body read or response write may wait
  request_timeout = 300,        -- seconds for reading a body and writing a response, in all
  drain = 65536,                -- unread request body drained to keep the connection
  linger_timeout = 1,           -- seconds, in all, read after an error response
  linger_bytes = 262144,        -- bytes, in all, read after an error response
}

-- Connections holding a task above which one that has answered and has
-- nothing more to read parks at once, not after a tick: bounds the tasks
-- (about 3 KB each) a burst of requests leaves alive; a busier server
-- pays a new task per request.
M.BUSY_TASKS = 1024

-- What http.server takes besides M.DEFAULTS' limits and the static
-- files' options (lunasock.http.static.OPTIONS, used with root).
local OPTIONS = {host = true, port = true, handler = true, root = true, access_log = true,
                 on_error = true, methods = true, workers = true, backlog = true,
                 reuseport = true, tls = true, handshake_timeout = true, max_conns = true}

local Server = {}
Server.__index = Server
Server.__name = "lunasock.http.server"

-- (in the order a server meets them, below its entry points)
local at_door, check_limits, check_types, serve_conn, requests, is_idle, count_tasks, park,
      reaper, linger, access_log, handler_traceback

---------------------------------------------------------------- a server

-- server.new{host = "127.0.0.1", port = 0, handler = fn | router,
-- root = DIR, limits and timeouts (M.DEFAULTS), access_log = true | file |
-- fn(req, status, bytes), on_error = fn(msg), methods = set, workers = N,
-- backlog} -> server (fields host, port, sock; close()), or nil, msg, code.
function M.new(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'server' (table expected)", 2) end
  local static = require "lunasock.http.static"
  check.known(opts, "http.server", check.set(OPTIONS, M.DEFAULTS, static.OPTIONS))
  check_types(opts)
  local handler = opts.handler
  if opts.root then
    local sopts = {}
    for k in pairs(static.OPTIONS) do sopts[k] = opts[k] end
    -- a root that is no directory is the caller's mistake: blamed there,
    -- not on this line
    local ok, files = pcall(static.handler, opts.root, sopts)
    if not ok then error((tostring(files):gsub("^[^\n:]*:%d+: ", "")), 2) end
    if handler then
      local h = handler
      handler = function(req)
        local s, hd, b = h(req)
        if s == 404 and not req.responded then return files(req) end
        return s, hd, b
      end
    else
      handler = files
    end
  end
  if handler == nil then error("http.server: a handler or a root is needed", 2) end
  local o = check_limits(opts)
  local workers = opts.workers or 1
  if math_type(workers) ~= "integer" or workers < 1 then
    error("http.server: workers must be a positive integer", 2)
  end
  if workers > 1 then
    -- each worker is a process: a typo must not fork thousands
    local supervisor = require "lunasock.workers"
    if workers > supervisor.MAX_WORKERS then
      error(("http.server: workers must be at most %d"):format(supervisor.MAX_WORKERS), 2)
    end
    -- the TLS context is made here, once, before the fork: a bad
    -- certificate fails this call rather than every worker, again and again
    local ctx, err, code = at_door(serve.tls_context, o.tls)
    if ctx == nil then return nil, err, code end
    o.tls = ctx or nil
    return supervisor.start{
      n = workers, host = o.host, port = o.port, backlog = o.backlog,
      on_error = o.on_error, name = "lunasock.http",
      serve = function(l) return M.serve_socket(l, o, handler) end,
    }
  end
  return M.serve_socket(nil, o, handler)
end

-- fn(...) from http.server: an option lunasock.serve checks and
-- refuses (tls above all: a wrong type, a client context) raises at
-- http.server's caller, named as http.server's, without the position of
-- the line here.
function at_door(fn, ...)
  local r = pack(pcall(fn, ...))
  if not r[1] then
    local msg = gsub(gsub(tostring(r[2]), "^[^\n:]*:%d+: ", ""), "to '[%w.]*serve'",
                     "to 'http.server'")
    error(msg, 3)
  end
  return unpack(r, 2, r.n)
end

-- Serves on an already listening socket (workers), or on a new one
-- (sock nil: lunasock.tcp.serve on o.host, o.port).
function M.serve_socket(sock, o, handler)
  local smallest = math.min(o.header_timeout, o.idle_timeout, o.linger_timeout)
  local server = setmetatable({opts = o, handler = handler, conns = {},
                               parse = false, cycle = false,
                               now = monotime(), closed = false, plain = not o.tls,
                               tick = math.min(0.5, smallest / 4), tasks = 0,
                               busy = M.BUSY_TASKS, crowded = false}, Server)
  server.parse, server.cycle = request.parser(o)
  local function on_conn(st, peer) return serve_conn(server, st, peer) end
  -- deferred: a connection's task starts with its first bytes (until
  -- then the header timeout is serve's: a silent one is closed)
  local sopts = {tls = o.tls, max_conns = o.max_conns, handshake_timeout = o.handshake_timeout,
                 stream = {write_buffer = false}, deferred = o.header_timeout}
  local listener, err, code
  if sock then
    listener, err, code = at_door(serve.listener, sock, on_conn, sopts)
  else
    sopts.backlog, sopts.reuseport = o.backlog, o.reuseport
    listener, err, code = at_door(lunasock.tcp.serve, o.host or "127.0.0.1", o.port or 0,
                                  on_conn, sopts)
  end
  if not listener then return nil, err, code end
  server.listener, server.sock = listener, listener.sock
  server.host, server.port = listener.host, listener.port
  server.task = listener.task
  response.tick()
  server.reaper_task = loop.spawn(reaper, server)
  return server
end

-- The options that are not limits, checked at the door: a wrong type
-- would otherwise fail on the first request (a handler = 5 as a 500 per
-- request, an access_log = 5 as a silent fallback to stderr).
local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

local function bad(name, expected, v)
  error(("bad option '%s' to 'http.server' (%s expected, got %s)"):format(name, expected,
                                                                         type(v)), 4)
end

function check_types(opts)
  local h = opts.handler
  if h ~= nil and not callable(h) then bad("handler", "function or router", h) end
  if opts.host ~= nil and type(opts.host) ~= "string" then bad("host", "string", opts.host) end
  if opts.port ~= nil then check.integer(opts.port, "port", "http.server", 0, 65535, 3) end
  if opts.root ~= nil and type(opts.root) ~= "string" then bad("root", "directory", opts.root) end
  if opts.methods ~= nil and type(opts.methods) ~= "table" then
    bad("methods", "set of method names", opts.methods)
  end
  local log = opts.access_log
  if log ~= nil and type(log) ~= "boolean" and io_type(log) ~= "file" and not callable(log) then
    bad("access_log", "true, a file or a function", log)
  end
  if opts.on_error ~= nil and not callable(opts.on_error) then
    bad("on_error", "function", opts.on_error)
  end
end

function check_limits(opts)
  local o = {}
  for k, v in pairs(M.DEFAULTS) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  for _, k in ipairs{"max_request_line", "max_head", "max_headers", "drain", "linger_bytes"} do
    if math_type(o[k]) ~= "integer" or o[k] < 1 or o[k] > 0x7fffffff then
      error(("http.server: %s must be a positive integer"):format(k), 3)
    end
  end
  if o.max_body ~= false and (math_type(o.max_body) ~= "integer" or o.max_body < 0) then
    error("http.server: max_body must be a non-negative integer or false", 3)
  end
  for _, k in ipairs{"header_timeout", "idle_timeout", "body_timeout", "linger_timeout",
                     "request_timeout"} do
    if type(o[k]) ~= "number" or o[k] ~= o[k] or o[k] <= 0 or o[k] > 1e9 then
      error(("http.server: %s must be a positive number of seconds"):format(k), 3)
    end
  end
  return o
end

-- server:close(): stops accepting and closes every connection.
function Server:close()
  if self.closed then return end
  self.closed, self.crowded = true, true
  self.listener:close()
  self.conns = {}
  if self.reaper_task then self.reaper_task:cancel() end
  if self.on_close then self.on_close() end
end
Server.__close = Server.close

-- server:connections() -> how many connections are open, and how many of
-- them wait with no task (parked, or not started: no input yet)
function Server:connections()
  return self.listener:connections()
end

-- server:log_error(msg): a handler error, to opts.on_error, else stderr.
function Server:log_error(msg)
  local f = self.opts.on_error
  if f then
    pcall(f, msg)
  else
    io.stderr:write("lunasock.http: ", msg, "\n")
    io.stderr:flush()
  end
end

-- Shuts both ways down a connection that ran out of time, without
-- waiting: its timeout goes to 0 first, since a TLS socket flushes what
-- it holds before its shutdown and would park the reaper, and every
-- connection's deadline with it, on a peer that does not read.
local function cut(sock)
  pcall(sock.settimeout, sock, 0)
  pcall(sock.shutdown, sock, "rw")
end

-- Whether conn's task waits for the next request with nothing else to
-- do: in request.read's recv, nothing buffered, nothing held to send.
function is_idle(conn)
  return conn.pos > #conn.buf and not (conn.head_started or conn.slow or conn.out
                                       or conn.closing)
end

-- server.tasks, connections holding a task (serve_conn running), and
-- server.crowded: more than BUSY_TASKS of them, or the server closed
-- (either way a connection's cycle hands each answered request back to
-- requests(), which parks or ends it).
function count_tasks(server, d)
  local n = server.tasks + d
  server.tasks, server.crowded = n, n > server.busy or server.closed
end

-- A parked connection's record: a new, smaller one (the fields of one
-- that has served requests are more than eight: a hash of sixteen).
-- serve_conn finds it when input comes.
local function keep(server, sock, conn)
  server.conns[sock] = {server = server, sock = sock, stream = conn.stream, peer = conn.peer,
                        deadline = conn.deadline, buf = "", pos = 1, parked = true}
end

-- Parks a connection idle for a whole tick (lunasock.serve's park): its
-- task ends, and what stays is the socket, the stream, serve's record and
-- the one keep makes.
function park(server, sock, conn)
  if not server.listener:park(sock) then return end
  count_tasks(server, -1)
  keep(server, sock, conn)
end

-- The reaper: a coarse clock, the Date text, the deadlines, and parking.
function reaper(server)
  local tick = server.tick
  local header_timeout = server.opts.header_timeout
  while not server.closed do
    loop.sleep(tick)
    local now = monotime()
    server.now = now
    response.tick()
    local open, parked = server.listener:connections()
    count_tasks(server, open - parked - server.tasks)   -- made exact
    for sock, conn in pairs(server.conns) do
      if conn.timed_out then
        -- still here a tick after its deadline: stuck writing; or parked
        -- with its socket closed by other code (no task will come to
        -- drop the record: lunasock.serve ends such a connection quietly)
        if conn.parked and not pcall(sock.fileno, sock) then
          server.conns[sock] = nil
        else
          cut(sock)
        end
      elseif conn.timed then
        -- reading a body, writing a response: bounded as a whole
        if conn.phase_end <= now then
          conn.timed_out = true
          cut(sock)
        end
      elseif conn.deadline then
        if conn.deadline <= now then
          conn.timed_out, conn.deadline = true, false
          pcall(sock.shutdown, sock, "r")
        elseif conn.stream:buffered() > 0 and not conn.head_started then
          -- bytes of a request have come: the head deadline applies
          conn.head_started = true
          local d = now + header_timeout
          if d < conn.deadline then conn.deadline = d end
        elseif not conn.parked and is_idle(conn) then
          -- the deadline is set from server.now after each request:
          -- the same one a tick later means no request in a whole tick
          if conn.seen == conn.deadline then
            park(server, sock, conn)
          else
            conn.seen = conn.deadline
          end
        end
      end
      if not conn.deadline then conn.head_started = false end
    end
  end
end

---------------------------------------------------------------- a connection

-- One connection, from tcp.serve: requests until one says close, or
-- the client goes. The stream is closed by tcp.serve after it.
function serve_conn(server, st, peer)
  local opts = server.opts
  local sock = st:socket()
  local conn = server.conns[sock]
  if conn then
    conn.parked = false   -- parked by the reaper: input has come
  else
    -- seven fields (a hash of eight holds them: an idle connection
    -- costs little); the flags (closing, timed_out, timed, slow, out,
    -- special, body, head_started, seen, parked) are nil until first set
    conn = {server = server, sock = sock, stream = st, peer = peer,
            deadline = server.now + opts.header_timeout,
            buf = "", pos = 1}
    server.conns[sock] = conn
  end
  count_tasks(server, 1)
  -- a callable table (a router) is called through its __call, found
  -- once here rather than by xpcall on every request
  local handler, self = server.handler, nil
  if type(handler) ~= "function" then
    local mt = debug_getmetatable(handler)
    if type(mt) == "table" and type(mt.__call) == "function" then
      handler, self = mt.__call, handler
    end
  end
  -- A handler's error is caught here, once for all the requests the task
  -- serves rather than by an xpcall per request: cur[1] is the request
  -- whose handler runs (false between handlers), so an error raised
  -- there gets its 500, and the server's own goes on to tcp.serve.
  local cur = {false}
  local ok, parked = xpcall(requests, handler_traceback, server, conn, handler, self, cur)
  if not ok then
    local req = cur[1]
    if not req then error(parked, 0) end
    local rstatus, bytes = send_response(conn, req, false, parked)
    if opts.access_log and rstatus then access_log(server, req, rstatus, bytes) end
  elseif parked then
    return parked
  end
  count_tasks(server, -1)
  if conn.out then response.flush(conn) end
  if conn.closing and not server.closed then linger(server, conn) end
  server.conns[sock] = nil
end

-- The requests on a connection, one after another: returns when one
-- closes it, or PARK when it gives up its task (serve_conn's tail then
-- does not run). A handler is called with cur[1] set to its request.
-- On a plain server without an access log, server.cycle (C: see
-- request.parser) serves the common case itself, reads, handler calls
-- and fast answers, while nothing is buffered; it comes back with the
-- first thing it does not do: the connection done (nil), input for
-- request.read (false), a handler's answer to send (req, s, h, b) or
-- error (req, nil, nil, nil, msg: it calls the handler as xpcall would,
-- handler_traceback its message handler), or an answered request the
-- loop must look at (true, and what the send left: server.crowded is
-- set).
function requests(server, conn, handler, self, cur)
  local sock, idle, log = conn.sock, server.opts.idle_timeout, server.opts.access_log
  local cycle = server.plain and not log and server.cycle
  while true do
    local req, s, h, b, raised
    if cycle and conn.pos > #conn.buf and not (conn.out or conn.slow) then
      conn.body = false
      req, s, h, b, raised = cycle(sock, conn, handler, self, handler_traceback, server, idle)
      if req == nil then return nil end
    end
    if not req then
      local status, why
      req, status, why = read_request(conn)
      if not req then
        if status then
          local bytes = response.error(conn, status, why)
          if log then access_log(server, nil, status, bytes, conn) end
        end
        return nil
      end
      cur[1] = req
      if self then s, h, b = handler(self, req) else s, h, b = handler(req) end
      cur[1] = false
    end
    if req == true then
      if s then response.rest(conn, s) end
    else
      -- (raised: a handler the cycle called raised it; its 500, as below)
      local rstatus, bytes = send_response(conn, req, raised == nil, raised or s, h, b)
      if log and rstatus then access_log(server, req, rstatus, bytes) end
    end
    if conn.body or conn.closing or conn.timed or server.closed then
      if conn.body and not conn.closing then finish_body(conn, req) end
      if conn.closing or server.closed then return nil end
      if conn.timed then
        conn.timed = false
        sock:settimeout(nil)
      end
    end
    conn.deadline = server.now + idle
    if server.crowded and is_idle(conn) then
      -- many connections hold a task: this one gives its own up at once
      -- rather than after a tick (their coroutines would all be live)
      count_tasks(server, -1)
      keep(server, sock, conn)
      return PARK
    end
  end
end

-- Closes after an error without losing the response to a reset: stop
-- writing, read what the client still sends, then close. Bounded in all
-- (linger_timeout, linger_bytes), not per read, and the connection stays
-- in server.conns meanwhile, for the reaper and close().
function linger(server, conn)
  local sock, st, opts = conn.sock, conn.stream, server.opts
  if not st:flush() or not pcall(sock.shutdown, sock, "w") then return end
  local deadline = monotime() + opts.linger_timeout
  conn.deadline = server.now + opts.linger_timeout
  local got = 0
  while got < opts.linger_bytes and not server.closed do
    local left = deadline - monotime()
    if left <= 0 then break end
    sock:settimeout(left)
    local data = sock:recv(16384)
    if not data or data == "" then break end
    got = got + #data
  end
end

function access_log(server, req, status, bytes, conn)
  local log = server.opts.access_log
  req = req or {method = "-", target = "-", version = "1.1", peer = conn.peer}
  if type(log) == "function" then
    pcall(log, req, status, bytes)
  else
    local f = io_type(log) == "file" and log or io.stderr
    f:write(format('%s - - [%s] "%s %s HTTP/%s" %d %s\n', req.peer or "-",
                   os_date("!%d/%b/%Y:%H:%M:%S +0000"), req.method, req.target,
                   req.version, status, bytes and tostring(bytes) or "-"))
    f:flush()
  end
end

function handler_traceback(msg)
  return traceback(type(msg) == "string" and msg or tostring(msg), 2)
end

M.Server = Server
return M
