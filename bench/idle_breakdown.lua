-- idle_breakdown.lua - where the Lua heap of one idle connection goes.
-- Holds N idle connections (clients in this process: plain non-blocking
-- core sockets, no task) on lunasock.http (silent, then after one
-- request each, once parked) and on a bare lunasock.tcp.serve handler
-- parked in one recv, and prints the heap growth per connection
-- (collectgarbage("count") after full collections, the clients' own
-- sockets taken off) next to what each object kind costs, measured the
-- same way on N copies made alone. bench/idle.md explains the figures.
-- Run by bench/build/lua_memhist (lua5.4 with an allocator that counts
-- live blocks by size: bench/c/lua_prof.c built with -DMEMHIST) it also lists, for each
-- kind of connection, the block sizes it holds per connection.
-- usage (from the project root, after make; ulimit -n above 2N + 100):
--   gcc -O2 -DMEMHIST -I/usr/include/lua5.4 -o bench/build/lua_memhist bench/c/lua_prof.c \
--     /usr/lib/x86_64-linux-gnu/liblua5.4.a -lm -ldl -Wl,-E
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--     bench/build/lua_memhist bench/idle_breakdown.lua [N]    (or lua5.4)
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

-- bytes per object of what make(i) returns, N of them held at once
local function cost(make)
  local keep = {}
  for i = 1, N do keep[i] = false end   -- the holder's slots first
  local h0 = heap()
  for i = 1, N do keep[i] = make(i) end
  return (heap() - h0) / N, keep
end

local rows = {}
local function row(what, bytes, note)
  rows[#rows + 1] = {what, bytes, note or ""}
end

-- Block sizes held per connection (lua_memhist only): what grew between
-- two memhist() snapshots, divided by n, where it is 0.2 or more.
local memhist = rawget(_G, "memhist")
local hists = {}
local function blocks(name, before, n)
  if not memhist then return end
  local after, list = memhist(), {}
  for size, c in pairs(after) do
    local per = (c - (before[size] or 0)) / n
    if per >= 0.2 or per <= -0.2 then list[#list + 1] = {size, per} end
  end
  table.sort(list, function(x, y) return x[1] * x[2] > y[1] * y[2] end)
  hists[#hists + 1] = {name, list}
end

---------------------------------------------------------------- parts alone

local udata, socks = cost(function() return core.socket("inet", "stream") end)
row("core socket userdata", udata, "lsk_socket (40 B) + header")
for i = 1, N do socks[i]:close() end

row("empty table", (cost(function() return {} end)))
local KEYS = {"a", "b", "c", "d", "e", "f", "g", "h", "i"}
for _, k in ipairs{1, 2, 4, 5, 8, 9} do
  row(("table, %d fields"):format(k), (cost(function()
    local t = {}
    for j = 1, k do t[KEYS[j]] = false end
    return t
  end)), "56 B + 24 B per hash slot (a power of two)")
end

do   -- one key per connection in a big table (server.conns)
  local big, h0 = {}, heap()
  for _ = 1, N do big[{}] = true end
  row("a key in a big table (-> true), amortised", (heap() - h0) / N - 56,
      "the key's own table taken off")
end

local sopts = stream.options({write_buffer = true}, "serve")
local st_socks = {}
for i = 1, N do st_socks[i] = core.socket("inet", "stream") end
local stb, sts = cost(function(i) return stream.new(st_socks[i], sopts) end)
row("stream.new (idle: its parts made when used)", stb)
for i = 1, N do sts[i]:close() end

row("coroutine, not started", (cost(function() return coroutine.create(print) end)),
    "lua_State + 45 stack slots of 16 B")

-- coroutines parked in a Lua yield, k + 1 Lua frames deep
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
  row(("coroutine parked %d Lua frames deep"):format(k + 1), b, "64 B per CallInfo")
  for i = 1, N do coroutine.close(cos[i]) end
end

-- a loop task parked in one recv: the task table, its coroutine, the
-- loop's tables (task_of, readers, interest, the poller's)
do
  local ps = {}
  for i = 1, N do ps[i] = {core.socketpair()} end
  loop.run(function()
    local tasks = {}
    for i = 1, N do tasks[i] = false end
    local h0 = heap()
    for i = 1, N do tasks[i] = loop.spawn(function(s) local d = s:recv(1) return d end, ps[i][1]) end
    loop.sleep(0.05)
    row("loop task parked in sock:recv", (heap() - h0) / N)
    for i = 1, N do ps[i][1]:close() ps[i][2]:close() end
  end)
end

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

local function wait(cond)
  local t = loop.now()
  while not cond() and loop.now() - t < 20 do loop.sleep(0.05) end
end

-- Heap per connection held by the server start() makes: open(srv) says
-- how many it holds, ready(srv) when they are where they are measured;
-- with request, each client sends it once every one is accepted.
local function measure(name, start, open, ready, request)
  local result
  loop.run(function()
    local srv = start()
    loop.sleep(0.05)
    local h1 = heap()
    local before = memhist and memhist()
    local cs = connect_all(srv.port)
    wait(function() return open(srv) >= N end)
    if request then
      for i = 1, N do cs[i]:send(request) end
    end
    wait(function() return ready(srv) end)
    loop.sleep(0.2)
    local n = open(srv)
    result = (heap() - h1 - N * udata) / n
    row(name .. (" (%d held)"):format(n), result, "per connection, clients' sockets taken off")
    blocks(name, before, n)
    srv:close()
    for i = 1, N do cs[i]:close() end
  end)
  return result
end

local served = 0
local function http_server()
  served = 0
  return assert(http.server{host = "127.0.0.1", port = 0, handler = function()
    served = served + 1
    return 200, nil, "x"
  end})
end
local function open(srv) return (srv:connections()) end
-- every connection without a task (parked, or not started), and with
-- requests, every request answered
local function all_parked(srv) return select(2, srv:connections()) >= N end
local function all_served_parked(srv) return served >= N and all_parked(srv) end

local silent = measure("lunasock.http, silent (no task)", http_server, open, all_parked)
local after = measure("lunasock.http, after a request, parked", http_server, open,
                      all_served_parked,
                      "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
local held = 0
local floor = measure("tcp.serve floor, handler parked in recv", function()
  return assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
    held = held + 1
    st:socket():recv(100)
    held = held - 1
  end))
end, function() return held end, function() return held >= N end)

for _, r in ipairs(rows) do
  print(("%-50s %8.1f B  %s"):format(r[1], r[2], r[3]))
end
for _, h in ipairs(hists) do
  print(("\n%s: blocks per connection (size x count; the clients' sockets are 64 B each)")
        :format(h[1]))
  local total = 0
  for _, e in ipairs(h[2]) do
    print(("  %6d B x %5.2f = %7.1f B"):format(e[1], e[2], e[1] * e[2]))
    total = total + e[1] * e[2]
  end
  print(("  total %.1f B"):format(total))
end
print(("Lua heap per idle connection: http silent %.2f KB, http after a request %.2f KB, "
       .. "tcp.serve floor %.2f KB"):format(silent / 1024, after / 1024, floor / 1024))
