#!/usr/bin/env lua5.4
-- A chat server (lunasock.chat) that nc, telnet, socat and
-- examples/chat_client.lua can talk to: the first line a client sends is
-- its nickname, every other line goes to the room; /help lists the
-- commands. It adds a /join ROOM command, to show the hooks at work, and
-- logs joins and leaves on stderr.
--
-- Usage: lua5.4 examples/chat_server.lua [--host H] [--port N]
--          [--max-line BYTES] [--max-queue BYTES] [--idle SECONDS]
-- --host defaults to 127.0.0.1 and --port to 0 (a free port); the server
-- prints "listening on HOST:PORT" once ready, and runs until killed.
-- Try it: nc 127.0.0.1 PORT
local chat = require "lunasock.chat"
local loop = require "lunasock.loop"

local USAGE = "usage: chat_server.lua [--host H] [--port N] [--max-line BYTES]"
              .. " [--max-queue BYTES] [--idle SECONDS]\n"

local function usage_error(msg)
  io.stderr:write("chat_server: ", msg, "\n", USAGE)
  os.exit(2)
end

local opts = {host = "127.0.0.1", port = 0}
local numeric = {["--port"] = "port", ["--max-line"] = "max_line",
                 ["--max-queue"] = "max_queue", ["--idle"] = "idle_timeout"}
local args, i = {...}, 1
while i <= #args do
  local a, v = args[i], args[i + 1]
  if a == "--help" or a == "-h" then
    io.stdout:write(USAGE)
    os.exit(0)
  elseif a == "--host" and v then
    opts.host = v
  elseif numeric[a] and v then
    local n = tonumber(v)
    if not n or n < 0 then usage_error("bad number for " .. a .. ": " .. v) end
    if a ~= "--idle" then n = math.tointeger(n) or usage_error(a .. " takes an integer") end
    opts[numeric[a]] = n
  else
    usage_error("bad argument: " .. tostring(a))
  end
  i = i + 2
end

opts.commands = {
  -- /join ROOM: rooms through the hooks (see docs/chat.md)
  join = function(_, client, name)
    if not name:match("^[%w_-]+$") then return client:error("usage: /join ROOM") end
    client:move(client.server:room(name))
  end,
}
opts.help = {join = "/join ROOM  move to another room (made on first use)"}
opts.on_event = function(kind, room, client, arg)
  if kind == "join" or kind == "leave" then
    io.stderr:write(("chat_server: %s %s %s:%s%s\n"):format(client.nick, kind, room.name,
                    client.host, arg and (" (" .. arg .. ")") or ""))
  end
end

local server, err = chat.serve(opts)
if not server then
  io.stderr:write("chat_server: ", err, "\n")
  os.exit(1)
end
print(("listening on %s:%d"):format(server.host, server.port))
io.stdout:flush()
loop.run()
