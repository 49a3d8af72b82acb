-- lunasock.echo: echo servers over TCP, UDP and unix sockets, one loop
-- task per connection.
--
-- Back-pressure comes free with one task per connection: while a reply
-- cannot be sent the task waits in send and reads nothing more, so a
-- client that does not read makes the kernel's buffers fill and its own
-- sends block; the server holds at most one read's worth for it.
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local check = require "lunasock.check"

local core = lunasock.core
local sub, error, type, pairs, tostring, setmetatable = string.sub, error, type, pairs,
                                                      tostring, setmetatable

local M = {}

M.READ_SIZE = 65536

-- Sends all of data with send (the socket's method, looked up once per
-- connection); false when the connection is gone.
local function send_all(send, c, data)
  local n = send(c, data)
  while n and n < #data do
    data = sub(data, n + 1)
    n = send(c, data)
  end
  return n ~= nil
end

-- One connection (a lunasock.serve handler): what comes goes back. The
-- stream's socket is used directly: an echo needs no buffering.
local function echo_stream(st)
  local c = st:socket()
  local recv, send, size = c.recv, c.send, M.READ_SIZE
  while true do
    local data = recv(c, size)
    if not data or data == "" then break end
    local n = send(c, data)           -- all of it, nearly always
    if n ~= #data and not (n and send_all(send, c, sub(data, n + 1))) then break end
  end
end

local function echo_datagrams(server)
  local s = server.sock
  while core.type(s) == "socket" do
    local data, host, port = s:recvfrom(M.READ_SIZE)
    if data and port then
      s:sendto(data, host, port)
    elseif data and host and host ~= "" then
      s:sendto(data, host)        -- a unix datagram peer with a path
    end                           -- an error: try again, unless closed
  end
end

local Server = {}
Server.__index = Server
Server.__name = "lunasock.echo.server"

-- server:close(): stops serving (the UDP socket closed).
function Server:close()
  self.sock:close()
end

Server.__close = Server.close

-- What echo.serve passes on to tcp.serve / unix.serve.
local SERVE_OPTS = {backlog = true, reuseaddr = true, reuseport = true, nodelay = true,
                    timeout = true, max_conns = true, tls = true, handshake_timeout = true}
local OPTIONS = check.set(SERVE_OPTS, {proto = true, host = true, port = true, path = true,
                                       type = true})

-- echo.serve{host = "127.0.0.1", port = 0, proto = "tcp"|"udp"|"unix",
-- path = ..., backlog = ...} -> server (fields host, port or path, and
-- close()), or nil, msg, code. TCP and unix echo servers are
-- lunasock.tcp.serve / unix.serve servers (their options: timeout,
-- max_conns, tls, ... apply); every connection is echoed by its own task.
-- The tasks run in the loop: call it inside a task, or before loop.run().
function M.serve(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'echo.serve' (table expected)", 2) end
  check.known(opts, "echo.serve", OPTIONS)
  check.opt_address(opts, "echo.serve")
  local proto = opts.proto or "tcp"
  if opts.type ~= nil and proto ~= "unix" then
    error(("echo.serve: option 'type' does not apply to proto '%s'"):format(tostring(proto)), 2)
  end
  local sopts = {}
  for k, v in pairs(opts) do
    if SERVE_OPTS[k] then sopts[k] = v end
  end
  if proto == "tcp" then
    return lunasock.tcp.serve(opts.host or "127.0.0.1", opts.port or 0, echo_stream, sopts)
  elseif proto == "unix" then
    if type(opts.path) ~= "string" then error("echo.serve: proto 'unix' needs a path", 2) end
    sopts.nodelay, sopts.reuseaddr, sopts.reuseport = nil, nil, nil
    sopts.type = opts.type          -- "stream" or "seqpacket"; unix.listen checks
    return lunasock.unix.serve(opts.path, echo_stream, sopts)
  elseif proto ~= "udp" then
    error("echo.serve: proto must be 'tcp', 'udp' or 'unix'", 2)
  end
  -- a datagram echo has no connections: an option for them (tls above
  -- all) must not be dropped silently
  for k in pairs(sopts) do
    if k ~= "reuseport" and k ~= "reuseaddr" then
      error(("echo.serve: option '%s' does not apply to proto 'udp'"):format(tostring(k)), 2)
    end
  end
  local sock, err, code = lunasock.udp.bind(opts.host or "127.0.0.1", opts.port or 0,
                                            {reuseport = opts.reuseport,
                                             reuseaddr = opts.reuseaddr})
  if not sock then return nil, err, code end
  local server = setmetatable({sock = sock, proto = proto}, Server)
  server.host, server.port = sock:getsockname()
  server.task = loop.spawn(echo_datagrams, server)
  return server
end

return M
