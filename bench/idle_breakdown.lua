-- idle_breakdown.lua - where the Lua heap of one idle connection goes.
-- Holds N idle connections (clients in this process: plain non-blocking
-- core sockets that send nothing) on a bare lunasock.tcp.serve handler
-- parked in one recv, then on lunasock.http, and prints the heap growth
-- per connection (collectgarbage("count") after full collections, the
-- clients' own sockets taken off) next to what each object kind costs,
-- measured the same way on N copies made alone.
-- usage (from the project root, after make):
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--     lua5.4 bench/idle_breakdown.lua [N]
local lunasock = require "lunasock"
local core = lunasock.core
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local http = require "lunasock.http"

local N = tonumber(arg[1]) or 2000

local function heap()
  collectgarbage()
  collectgarbage()
  return collectgarbage("count") * 1024
end

-- bytes per object of what make() returns, N of them held at once
local function cost(make)
  local keep = {}
  for i = 1, N do keep[i] = false end   -- the holder's slots first
  local h0 = heap()
  for i = 1, N do keep[i] = make(i) end
  local b = (heap() - h0) / N
  return b, keep
end

local rows = {}
local function row(what, bytes, note)
  rows[#rows + 1] = {what, bytes, note or ""}
end

---------------------------------------------------------------- parts alone

local udata, socks = cost(function() return core.socket("inet", "stream") end)
row("core socket userdata", udata, "lsk_socket 40 B + Udata header")
for i = 1, N do socks[i]:close() end

local t0 = cost(function() return {} end)
row("empty table", t0)
for k = 1, 8 do
  local keys = {"a", "b", "c", "d", "e", "f", "g", "h"}
  local b = cost(function()
    local t = {}
    for j = 1, k do t[keys[j]] = false end
    return t
  end)
  row(("table, %d hash fields"):format(k), b)
end
local co0 = cost(function() return coroutine.create(print) end)
row("coroutine, not started", co0, "lua_State + 45 stack slots")

-- one key per connection in a table (server.conns, loop's fd tables)
local hslot = cost(function() return false end)   -- baseline: nothing
local big = {}
local hb0 = heap()
for i = 1, N do big[{}] = true end
row("hash slot (table key -> true), amortised", (heap() - hb0) / N - t0)
big = nil

local sopts = stream.options({write_buffer = true}, "serve")
local st_socks = {}
for i = 1, N do st_socks[i] = core.socket("inet", "stream") end
local stb, sts = cost(function(i) return stream.new(st_socks[i], sopts) end)
row("stream.new (tcp.serve's options)", stb)
for i = 1, N do sts[i]:close() end
sts = nil
_ = hslot

-- coroutines parked in a Lua yield at a given depth of Lua calls
local function nest(k)
  if k == 0 then return coroutine.yield() end
  return (nest(k - 1))
end
for _, k in ipairs{0, 1, 4} do
  local b, cos = cost(function()
    local co = coroutine.create(nest)
    coroutine.resume(co, k)
    return co
  end)
  row(("coroutine parked %d Lua frames deep"):format(k + 1), b)
  for i = 1, N do coroutine.close(cos[i]) end
end

-- a loop task parked in one recv: the task, its coroutine at the
-- depth a recv leaves, the loop's tables (readers, interest, the poller's)
local function parked(name, fn)
  local pairs_ = {}
  for i = 1, N do pairs_[i] = {core.socketpair()} end
  loop.run(function()
    local tasks = {}
    for i = 1, N do tasks[i] = false end
    local h0 = heap()
    for i = 1, N do tasks[i] = loop.spawn(fn, pairs_[i][1]) end
    loop.sleep(0.05)
    row(name, (heap() - h0) / N)
    for i = 1, N do pairs_[i][1]:close() pairs_[i][2]:close() end
  end)
end
parked("loop task: fn(sock) sock:recv(1)", function(sock) return sock:recv(1) end)
parked("loop task: fn(sock) xpcall(g, tb, sock) -> recv", function(sock)
  return xpcall(function(s) return s:recv(1) end, debug.traceback, sock)
end)

---------------------------------------------------------------- connections

-- N clients connected to port, each a plain socket (no task, no stream)
local function connect_all(port)
  local cs = {}
  for i = 1, N do
    local c = core.socket("inet", "stream")
    c:settimeout(0)
    c:connect("127.0.0.1", port)
    cs[i] = c
  end
  return cs
end

local function measure(name, start, held)
  local result
  loop.run(function()
    local h0 = heap()
    local srv = start()
    loop.sleep(0.05)
    local h1 = heap()
    local cs = connect_all(srv.port)
    local t = loop.now()
    while held(srv) < N and loop.now() - t < 20 do loop.sleep(0.05) end
    loop.sleep(0.2)
    local n = held(srv)
    result = (heap() - h1 - N * udata) / n
    row(name .. (" (%d held)"):format(n), result, "per connection, clients' sockets taken off")
    srv:close()
    for i = 1, N do cs[i]:close() end
    _ = h0
  end)
  return result
end

local held = 0
local floor = measure("tcp.serve floor, parked in recv", function()
  return assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
    held = held + 1
    st:socket():recv(100)
    held = held - 1
  end))
end, function() return held end)

local plain = measure("lunasock.http, keep-alive idle", function()
  return assert(http.server{host = "127.0.0.1", port = 0,
                            handler = function() return 200, nil, "x" end})
end, function(srv)
  return (srv:connections())
end)

for _, r in ipairs(rows) do
  print(("%-52s %8.1f B  %s"):format(r[1], r[2], r[3]))
end
print(("floor %.2f KB, http %.2f KB per connection (Lua heap)"):format(floor / 1024, plain / 1024))
