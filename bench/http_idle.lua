-- http_idle.lua - memory per idle HTTP connection: RSS growth and Lua heap
-- growth (after full collections) of this process while
-- bench/build/idle_conns holds N connections that send nothing; with
-- "floor", the same for a bare lunasock.tcp.serve handler parked in one
-- recv (what every lunasock server pays before its protocol).
-- usage (from the project root, after make and make -C bench build/idle_conns
-- or one bench/run.sh):
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--     lua5.4 bench/http_idle.lua [N] [PORT] [floor]
local lunasock = require "lunasock"
local http = require "lunasock.http"
local loop = require "lunasock.loop"

local N, PORT, floor = tonumber(arg[1]) or 5000, tonumber(arg[2]) or 19370, arg[3] == "floor"
local here = arg[0]:match("^(.*)/[^/]*$") or "."

local rss_kb = dofile(here .. "/util.lua").rss_kb

local held = 0
local srv
if floor then
  srv = assert(lunasock.tcp.serve("127.0.0.1", PORT, function(st)
    held = held + 1
    st:socket():recv(100)
    held = held - 1
  end))
else
  srv = assert(http.server{host = "127.0.0.1", port = PORT,
                           handler = function() return 200, nil, "x" end})
end
local function count()
  if floor then return held end
  local n = 0
  for _ in pairs(srv.conns) do n = n + 1 end
  return n
end

loop.run(function()
  loop.sleep(0.2)
  collectgarbage()
  collectgarbage()
  local r0, h0 = rss_kb(), collectgarbage("count")
  local p = io.popen(here .. "/build/idle_conns -p " .. PORT .. " -k " .. N .. " -h 8 -t 20 2>&1")
  local t0 = loop.now()
  while loop.now() - t0 < 6 and count() < N do loop.sleep(0.25) end
  loop.sleep(0.5)
  collectgarbage()
  collectgarbage()
  local n = count()
  print(("%s: %d idle connections, RSS %.2f KB/conn, Lua heap %.2f KB/conn"):format(
    floor and "tcp.serve floor" or "lunasock.http", n, (rss_kb() - r0) / n,
    (collectgarbage("count") - h0) / n))
  srv:close()
  p:close()
end)
