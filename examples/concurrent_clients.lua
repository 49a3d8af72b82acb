#!/usr/bin/env lua5.4
-- N concurrent clients against an echo server, one loop task each: every
-- client connects, makes ROUNDS round trips (a line out, the same line
-- back, checked), and closes. Prints a summary: clients, round trips,
-- elapsed time and round trips per second.
--
-- Usage: lua5.4 examples/concurrent_clients.lua [N] [HOST PORT]
--   N defaults to 1000. With no HOST PORT the script starts lunasock.echo
--   in-process on 127.0.0.1 (port 0), so each client costs two
--   descriptors (its socket and the server's); N is lowered to what the
--   descriptor limit (ulimit -n) allows, and the script says so. Exits 1
--   if any client failed or got a wrong reply.
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local echo = require "lunasock.echo"

local ROUNDS = 10
local TIMEOUT = 10       -- seconds for any one connect, write or read
local RESERVED_FDS = 24  -- stdio, the poller, the listener, the resolver...

-- The soft limit on open descriptors (RLIMIT_NOFILE), as ulimit -n says.
local function fd_limit()
  local f = io.open("/proc/self/limits")
  if f then
    local text = f:read("a")
    f:close()
    local soft = text:match("Max open files%s+(%S+)")
    if soft then return tonumber(soft) or math.huge end   -- "unlimited"
  end
  local p = io.popen("ulimit -n")
  if p then
    local soft = p:read("l")
    p:close()
    return tonumber(soft) or math.huge
  end
  return math.huge
end

local function usage()
  io.stderr:write("usage: concurrent_clients.lua [N] [HOST PORT]\n")
  os.exit(2)
end

local args = {...}
local n, host, port = 1000, nil, nil
if #args == 1 or #args == 3 then
  n = math.tointeger(tonumber(args[1]))
  if not n or n < 1 then usage() end
  table.remove(args, 1)
end
if #args == 2 then
  host, port = args[1], tonumber(args[2])
  if not port then usage() end
elseif #args ~= 0 then
  usage()
end

local per_client = host and 1 or 2
local limit = fd_limit()
local cap = (limit - RESERVED_FDS) // per_client
if cap < 1 then
  io.stderr:write(("concurrent_clients: the descriptor limit (%d) is too low\n"):format(limit))
  os.exit(1)
end
if n > cap then
  print(("the descriptor limit (ulimit -n) is %d and each client needs %d: "
         .. "running %d clients instead of %d (raise it with ulimit -n)")
        :format(limit, per_client, cap, n))
  n = cap
end

-- One client: connect, ROUNDS round trips, each reply checked. Returns
-- the round trips made, or nil, err.
local function client(id)
  local sock, err = lunasock.tcp.connect(host, port, {timeout = TIMEOUT, nodelay = true})
  if not sock then return nil, "connect: " .. err end
  local s <close> = stream.new(sock)
  for round = 1, ROUNDS do
    local line = ("client %d round %d"):format(id, round)
    local ok, werr = s:write(line, "\n")
    if not ok then return nil, "write: " .. werr end
    local reply, rerr = s:readline()
    if not reply then return nil, "read: " .. rerr end
    if reply ~= line then return nil, ("sent %q, got %q"):format(line, reply) end
  end
  return ROUNDS
end

local summary = loop.run(function()
  local server
  if not host then
    server = assert(echo.serve{host = "127.0.0.1", port = 0})
    host, port = server.host, server.port
    print(("started lunasock.echo on %s:%d"):format(host, port))
  end
  print(("%d clients, %d round trips each, against %s:%d"):format(n, ROUNDS, host, port))
  local t0 = loop.now()
  local tasks = {}
  for i = 1, n do tasks[i] = loop.spawn(client, i) end
  local trips, failed, errors = 0, 0, {}
  for i = 1, n do
    local r, err = tasks[i]:join()
    if r then
      trips = trips + r
    else
      failed = failed + 1
      errors[err] = (errors[err] or 0) + 1
    end
  end
  local elapsed = loop.now() - t0
  if server then server:close() end
  return {trips = trips, failed = failed, errors = errors, elapsed = elapsed}
end)

for err, count in pairs(summary.errors) do
  print(("  %d clients failed: %s"):format(count, err))
end
print(("clients: %d ok, %d failed; round trips: %d; elapsed: %.3f s; %.0f round trips/s")
      :format(n - summary.failed, summary.failed, summary.trips, summary.elapsed,
              summary.trips / summary.elapsed))
os.exit(summary.failed == 0 and 0 or 1)
