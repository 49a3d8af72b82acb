-- bench/readme_rtt.lua: the README's "Prototype a protocol" server, taken
-- from README.md as written, answering two pipelined lines ("SET k v\nGET
-- k\n" in one segment) ROUNDS times over one connection; prints the median
-- and 99th percentile round trip. Then the same server with the two
-- defences that make it fast turned off (tcp.serve{nodelay = false,
-- stream = {write_buffer = false}}: each reply its own send, Nagle on),
-- which is how the README's server behaved before issue 10.
-- Usage (from the project root, after make):
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--     lua5.4 bench/readme_rtt.lua [ROUNDS]
local lunasock = require "lunasock"
local stream = require "lunasock.stream"
local core = lunasock.core

local ROUNDS = tonumber(arg[1]) or 1000

local readme = assert(io.open("README.md")):read("a")
local section = assert(readme:match("\n## Prototype a protocol in 5 minutes\n(.*)$"))
local code = assert(section:match("```lua\n(.-)```"))

local function measure(name, server_code)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(server_code)
  f:close()
  -- the shell prints its pid and becomes the server (exec): that pid is
  -- the one process this script stops
  local p = assert(io.popen(("echo $$; exec %s %s 0"):format(arg[-1] or "lua5.4", path)))
  local pid = assert(tonumber(p:read("l")))
  local line = assert(p:read("l"), "the server did not start")
  local port = assert(tonumber(line:match(":(%d+)$")), line)
  local c = stream.new(assert(lunasock.tcp.connect("127.0.0.1", port, {timeout = 5})))
  local times = {}
  for i = 1, ROUNDS do
    local t0 = core.monotime()
    assert(c:socket():send("SET k v" .. i .. "\nGET k\n"))   -- one segment
    assert(c:readline() == "OK")
    assert(c:readline() == "v" .. i)
    times[i] = core.monotime() - t0
  end
  c:write("QUIT\n")
  c:close()
  os.execute("kill " .. pid)
  p:close()
  os.remove(path)
  table.sort(times)
  local median, p99 = times[ROUNDS // 2 + 1], times[math.ceil(ROUNDS * 0.99)]
  print(("| %s | %d | %.3f ms | %.3f ms |"):format(name, ROUNDS, median * 1e3, p99 * 1e3))
end

print("| README server | rounds | median round trip | p99 |")
print("|---|---:|---:|---:|")
measure("as written (nodelay, buffered writes)", code)
measure("nodelay = false, write_buffer = false", (code:gsub(
  "session%)%)", "session, {nodelay = false, stream = {write_buffer = false}}))")))
