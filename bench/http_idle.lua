-- http_idle.lua - memory per idle connection: RSS growth and Lua heap
-- growth (after full collections) of this process while
-- bench/build/idle_conns holds N idle connections. MODE:
--   http   (default) lunasock.http, connections that send nothing
--   get    lunasock.http, connections idle after one keep-alive request
--          (idle_conns -g); measured once every one is parked (no task)
--   floor  a bare lunasock.tcp.serve handler parked in one recv (what a
--          server that keeps a task per connection pays)
-- bench/idle.md has the figures and where the bytes go.
-- usage (from the project root, after make and make -C bench build/idle_conns
-- or one bench/run.sh):
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--     lua5.4 bench/http_idle.lua [N] [PORT] [MODE]
local lunasock = require "lunasock"
local http = require "lunasock.http"
local loop = require "lunasock.loop"

local N, PORT, mode = tonumber(arg[1]) or 5000, tonumber(arg[2]) or 0, arg[3] or "http"
local here = arg[0]:match("^(.*)/[^/]*$") or "."
if mode ~= "http" and mode ~= "get" and mode ~= "floor" then
  error("MODE must be http, get or floor")
end

local rss_kb = dofile(here .. "/util.lua").rss_kb

local held = 0
local srv
if mode == "floor" then
  srv = assert(lunasock.tcp.serve("127.0.0.1", PORT, function(st)
    held = held + 1
    st:socket():recv(100)
    held = held - 1
  end))
else
  srv = assert(http.server{host = "127.0.0.1", port = PORT, handler = function()
    held = held + 1   -- requests answered
    return 200, nil, "x"
  end})
end
-- connections held, and whether all of them are where they are measured
local function count()
  if mode == "floor" then return held, held >= N end
  local open, parked = srv:connections()
  return open, parked >= N and (mode ~= "get" or held >= N)
end

loop.run(function()
  loop.sleep(0.2)
  collectgarbage()
  collectgarbage()
  local r0, h0 = rss_kb(), collectgarbage("count")
  local p = io.popen(here .. "/build/idle_conns -p " .. srv.port .. " -k " .. N .. " -h 8 -t 20"
                     .. (mode == "get" and " -g" or "") .. " 2>&1")
  local t0 = loop.now()
  while loop.now() - t0 < 7 and not select(2, count()) do loop.sleep(0.25) end
  loop.sleep(0.5)
  collectgarbage()
  collectgarbage()
  local n = count()
  print(("%s: %d idle connections, RSS %.2f KB/conn, Lua heap %.2f KB/conn"):format(
    mode == "floor" and "tcp.serve floor" or mode == "get" and "lunasock.http after a request"
    or "lunasock.http", n, (rss_kb() - r0) / n, (collectgarbage("count") - h0) / n))
  srv:close()
  p:close()
end)
