-- lunasock_mem.lua - where the memory of an idle lunasock echo connection
-- goes: the Lua heap per held connection (after a full collection) next to
-- the RSS growth, then the size of each part measured alone (a socket
-- userdata, a task table, a coroutine parked in recv).
-- usage (from the project root, after make):
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--     lua5.4 bench/lunasock_mem.lua [N] [PORT]
-- Connections come from bench/build/idle_conns, started here; N defaults
-- to 10000 (raise ulimit -n first), PORT to 0 (a free port).
local echo = require "lunasock.echo"
local loop = require "lunasock.loop"
local core = require "lunasock.core"

local N = tonumber(arg[1]) or 10000
local PORT = tonumber(arg[2]) or 0
local here = arg[0]:match("^(.*)/[^/]*$") or "."

local rss_kb = dofile(here .. "/util.lua").rss_kb

local function heap_kb()
  collectgarbage()
  collectgarbage()
  return collectgarbage("count")
end

-- bytes per object made by make(), n of them kept alive
local function per_object(n, make)
  local keep = {}
  for i = 1, n do keep[i] = false end      -- the array itself is not counted
  local before = heap_kb()
  for i = 1, n do keep[i] = make(i) end
  local after = heap_kb()
  local per = (after - before) * 1024 / n
  for i = 1, n do keep[i] = false end
  return per, keep
end

local server = assert(echo.serve{port = PORT})
print(("listening on %s:%d"):format(server.host, server.port))
io.stdout:flush()

local result
loop.spawn(function()
  local heap0, rss0 = heap_kb(), rss_kb()
  local cmd = ("%s/build/idle_conns -p %d -k %d -h 60 -t 30 >/dev/null 2>&1 & echo $!")
              :format(here, server.port, N)
  local p = assert(io.popen(cmd))
  local pid = p:read("l")
  p:close()
  local function count()
    local n = 0
    for _ in pairs(server.conns) do n = n + 1 end
    return n
  end
  local deadline = loop.now() + 45
  repeat loop.sleep(0.1) until count() >= N or loop.now() > deadline
  loop.sleep(0.5)
  local held = count()
  local heap1, rss1 = heap_kb(), rss_kb()
  os.execute("kill " .. pid)
  result = {held = held, heap = (heap1 - heap0) * 1024 / held,
            rss = (rss1 - rss0) * 1024 / held, rss0 = rss0, rss1 = rss1}
  server:close()
end)
loop.run()

print(("held %d idle connections: RSS %d -> %d KB"):format(result.held, result.rss0, result.rss1))
print(("  RSS growth      %7.0f bytes/conn"):format(result.rss))
print(("  Lua heap growth %7.0f bytes/conn (after a full collection)"):format(result.heap))
print(("  malloc overhead and garbage not in the Lua count: %.0f bytes/conn")
      :format(result.rss - result.heap))

-- the parts, one at a time
local M = 2000
local s_per, socks = per_object(M, function() return core.socket("inet", "stream") end)
for _, s in ipairs(socks) do if s then s:close() end end
print(("  socket userdata           %5.0f bytes"):format(s_per))
print(("  task table (7 fields)     %5.0f bytes"):format((per_object(M, function()
  return setmetatable({co = false, done = false, start = false, chain = false,
                       waitfd = false, waitdir = false, timer = false}, loop.Task)
end))))
print(("  bare coroutine            %5.0f bytes"):format((per_object(M, function()
  return coroutine.create(function() end)
end))))
-- a coroutine parked where an idle echo task is: inside recv
local a, b = core.socketpair()
local parked = per_object(M, function()
  local co = coroutine.create(function()
    local recv = a.recv
    while true do
      local d = recv(a, 65536)
      if not d then break end
    end
  end)
  core.cosocket(co, true)
  coroutine.resume(co)
  return co
end)
print(("  coroutine parked in recv  %5.0f bytes (stack and CallInfos)"):format(parked))
a:close()
b:close()
print(("  table slot (conns[c] = true, readers[fd], interest[fd], task_of[co]):"
       .. " ~%d bytes each when the hash doubles"):format(2 * 32))
