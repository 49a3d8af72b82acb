-- lunasock.echo: echo servers over TCP, UDP and unix sockets, one loop
-- task per connection.
--
-- Back-pressure comes free with one task per connection: while a reply
-- cannot be sent the task waits in send and reads nothing more, so a
-- client that does not read makes the kernel's buffers fill and its own
-- sends block; the server holds at most one read's worth for it.
local lunasock = require "lunasock"
local loop = require "lunasock.loop"

local core = lunasock.core
local sub, error, type, pairs = string.sub, error, type, pairs

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

local function echo_stream(server, c)
  local recv, send, size = c.recv, c.send, M.READ_SIZE
  while true do
    local data = recv(c, size)
    if not data or data == "" then break end
    local n = send(c, data)           -- all of it, nearly always
    if n ~= #data and not (n and send_all(send, c, sub(data, n + 1))) then break end
  end
  server.conns[c] = nil
  c:close()
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

-- The accept loop. EMFILE/ENFILE (out of descriptors) leave the pending
-- connection queued, so back off and try again: the server serves again
-- as soon as descriptors free up.
local function accept_loop(server)
  local l, backoff = server.sock, 0.01
  -- server:close() may come before this task first runs: accept on a
  -- closed socket raises
  while core.type(l) == "socket" do
    local c, _, code = l:accept()
    if c then
      backoff = 0.01
      -- echoes go out as soon as they come in: Nagle's algorithm would
      -- hold small replies back and halve bulk throughput
      if server.proto == "tcp" then c:setopt("nodelay", true) end
      server.conns[c] = true
      loop.spawn(echo_stream, server, c)
    elseif code == "EMFILE" or code == "ENFILE" or code == "ENOBUFS" or code == "ENOMEM" then
      loop.sleep(backoff)
      backoff = backoff < 0.5 and backoff * 2 or 0.5
    end
  end
end

local Server = {}
Server.__index = Server
Server.__name = "lunasock.echo.server"

-- server:close(): stops accepting and closes every connection.
function Server:close()
  self.sock:close()
  for c in pairs(self.conns) do c:close() end
  self.conns = {}
  if self.path and self.path:sub(1, 1) ~= "\0" then os.remove(self.path) end
end

Server.__close = Server.close

-- echo.serve{host = "127.0.0.1", port = 0, proto = "tcp"|"udp"|"unix",
-- path = ..., backlog = ...} -> server (fields sock, host, port or path),
-- or nil, msg, code. Its tasks run in the loop: call it inside a task, or
-- before loop.run().
function M.serve(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'serve' (table expected)", 2) end
  local proto = opts.proto or "tcp"
  local sock, err, code
  if proto == "tcp" then
    sock, err, code = lunasock.tcp.listen(opts.host or "127.0.0.1", opts.port or 0, opts)
  elseif proto == "udp" then
    sock, err, code = lunasock.udp.bind(opts.host or "127.0.0.1", opts.port or 0, opts)
  elseif proto == "unix" then
    if type(opts.path) ~= "string" then error("echo.serve: proto 'unix' needs a path", 2) end
    sock, err, code = lunasock.unix.listen(opts.path, opts)
  else
    error("echo.serve: proto must be 'tcp', 'udp' or 'unix'", 2)
  end
  if not sock then return nil, err, code end
  local server = setmetatable({sock = sock, proto = proto, conns = {}}, Server)
  if proto == "unix" then
    server.path = opts.path
  else
    server.host, server.port = sock:getsockname()
  end
  server.task = loop.spawn(proto == "udp" and echo_datagrams or accept_loop, server)
  return server
end

return M
