#!/usr/bin/env lua5.4
-- An echo server: every byte a client sends comes back, over TCP (one
-- loop task per connection), UDP or a unix socket.
--
-- Usage: lua5.4 examples/echo_server.lua [PORT] [HOST]
--        lua5.4 examples/echo_server.lua --udp [PORT] [HOST]
--        lua5.4 examples/echo_server.lua --unix PATH
-- PORT 0 (the default) picks a free port; the server prints
-- "listening on HOST:PORT" once ready, and runs until killed.
local echo = require "lunasock.echo"
local loop = require "lunasock.loop"

local proto, args = "tcp", {...}
if args[1] == "--udp" or args[1] == "--unix" then
  proto = args[1]:sub(3)
  table.remove(args, 1)
end

local server, err
if proto == "unix" then
  local path = assert(args[1], "usage: echo_server.lua --unix PATH")
  server, err = echo.serve{proto = "unix", path = path}
else
  server, err = echo.serve{proto = proto, port = tonumber(args[1]) or 0,
                           host = args[2] or "127.0.0.1"}
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
