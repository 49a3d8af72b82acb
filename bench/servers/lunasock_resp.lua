-- A naive RESP (redis protocol) server on lunasock, written the way a user
-- would: lunasock.tcp.serve, one stream per connection (its writes
-- buffered, as tcp.serve makes them), one write per reply. PING, ECHO,
-- SET, GET, INCR, DEL, CONFIG GET (empty), inline commands too.
-- Usage: lua5.4 bench/servers/lunasock_resp.lua [PORT] [unbuffered]
-- ("unbuffered": every write sent at once, write_buffer = false)
local lunasock = require "lunasock"

local store = {}
local tonumber, tostring, upper, sub = tonumber, tostring, string.upper, string.sub

local function command(s, line)
  if sub(line, 1, 1) ~= "*" then                 -- inline: PING, redis-cli
    local args = {}
    for w in line:gmatch("%S+") do args[#args + 1] = w end
    return args
  end
  local n = tonumber(sub(line, 2))
  if not n then return nil end
  local args = {}
  for i = 1, n do
    local len = s:readline()
    if not len then return nil end
    local data = s:read(tonumber(sub(len, 2)) + 2)
    if not data then return nil end
    args[i] = sub(data, 1, -3)
  end
  return args
end

local function session(s)
  while true do
    local line = s:readline()
    if not line then return end
    local args = command(s, line)
    if not args then return end
    local cmd = upper(args[1] or "")
    if cmd == "PING" then
      s:write("+PONG\r\n")
    elseif cmd == "SET" then
      store[args[2]] = args[3]
      s:write("+OK\r\n")
    elseif cmd == "GET" then
      local v = store[args[2]]
      if v then s:write("$", #v, "\r\n", v, "\r\n") else s:write("$-1\r\n") end
    elseif cmd == "INCR" then
      local v = (tonumber(store[args[2]]) or 0) + 1
      store[args[2]] = tostring(v)
      s:write(":", v, "\r\n")
    elseif cmd == "DEL" then
      local had = store[args[2]] ~= nil
      store[args[2]] = nil
      s:write(had and ":1\r\n" or ":0\r\n")
    elseif cmd == "ECHO" then
      s:write("$", #args[2], "\r\n", args[2], "\r\n")
    elseif cmd == "CONFIG" then
      s:write("*0\r\n")
    else
      s:write("-ERR unknown command '", args[1] or "", "'\r\n")
    end
  end
end

local opts = arg[2] == "unbuffered" and {stream = {write_buffer = false}} or nil
local server = assert(lunasock.tcp.serve("127.0.0.1", tonumber(arg[1]) or 0, session, opts))
print(("listening on %s:%d"):format(server.host, server.port))
io.stdout:flush()
lunasock.loop.run()
