#!/usr/bin/env lua5.4
-- An echo server: every byte a client sends comes back, over TCP (one
-- loop task per connection), UDP or a unix socket.
--
-- Usage: lua5.4 examples/echo_server.lua [--host HOST] [--port PORT] [--udp]
--        lua5.4 examples/echo_server.lua --unix PATH
--        (PORT and HOST may also be given in that order without the flags)
-- PORT 0 (the default) picks a free port; the server prints
-- "listening on HOST:PORT" once ready, and runs until killed.
local echo = require "lunasock.echo"
local loop = require "lunasock.loop"

local function usage(msg)
  io.stderr:write("echo_server: ", msg, "\n",
                  "usage: echo_server.lua [--host HOST] [--port PORT] [--udp] | --unix PATH\n")
  os.exit(2)
end

local proto, host, port, path = "tcp", "127.0.0.1", 0, nil
local positional, i = {}, 1
while arg[i] do
  local a = arg[i]
  if a == "--udp" then proto = "udp"
  elseif a == "--unix" or a == "--host" or a == "--port" then
    local v = arg[i + 1] or usage(a .. " needs a value")
    if a == "--unix" then proto, path = "unix", v
    elseif a == "--host" then host = v
    else port = tonumber(v) or usage("--port needs a number, not " .. v) end
    i = i + 1
  elseif a:sub(1, 1) == "-" then usage("unknown option " .. a)
  else positional[#positional + 1] = a end
  i = i + 1
end
if positional[1] then port = tonumber(positional[1]) or usage("bad port " .. positional[1]) end
if positional[2] then host = positional[2] end

local server, err
if proto == "unix" then
  server, err = echo.serve{proto = "unix", path = path}
else
  server, err = echo.serve{proto = proto, port = port, host = host}
end
if not server then
  io.stderr:write("echo_server: ", err, "\n")
  os.exit(1)
end
if server.path then
  print("listening on " .. server.path)
else
  print(("listening on %s:%d"):format(server.host, server.port))
end
io.stdout:flush()
loop.run()
