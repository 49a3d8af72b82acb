#!/usr/bin/env lua5.4
-- A key-value store over a line protocol: SET k v, GET k, DEL k, KEYS, QUIT.
-- Usage: lua5.4 examples/line_protocol.lua     (a server and a scripted client)
--        lua5.4 examples/line_protocol.lua --serve [--host H] [--port N]   (nc H N)
local lunasock, loop = require "lunasock", require "lunasock.loop"
local stream, lines = require "lunasock.stream", require("lunasock.frame").lines{max = 4096}
local store = {}
local commands = {
  SET = function(k, v) if not v then return "ERR usage: SET key value" end
    store[k] = v; return "OK" end,
  GET = function(k) return store[k] and "VALUE " .. store[k] or "NONE" end,
  DEL = function(k) local had = store[k]; store[k] = nil; return had and "DELETED" or "NONE" end,
  KEYS = function() local t = {}; for k in pairs(store) do t[#t + 1] = k end
    table.sort(t); return "KEYS " .. table.concat(t, " ") end,
}
local function serve(c)
  local st = stream.new(c)
  for line in function() return lines:read(st) end do
    local cmd, k, v = line:match("^(%u+)%s*(%S*)%s*(.-)%s*$")
    if cmd == "QUIT" then break end
    local fn = commands[cmd] or function() return "ERR unknown command" end
    lines:write(st, fn(k ~= "" and k or nil, v ~= "" and v or nil))
  end
  c:close()
end
local opt = {host = "127.0.0.1", port = 0}
for i = 1, #arg do if arg[i]:find("^%-%-") then opt[arg[i]:sub(3)] = arg[i + 1] or true end end
local l = assert(lunasock.tcp.listen(opt.host, tonumber(opt.port) or 0))
local host, port = l:getsockname()
loop.spawn(function() for c in function() return l:accept() end do loop.spawn(serve, c) end end)
if opt.serve then print(("listening on %s:%d"):format(host, port)); io.stdout:flush() end
loop.run(not opt.serve and function()
  local st = stream.new(assert(lunasock.tcp.connect(host, port)))
  for _, req in ipairs{"SET color blue", "SET size L", "GET color", "KEYS", "DEL size", "GET size",
                       "FLY away"} do
    lines:write(st, req); print(("> %-16s < %s"):format(req, lines:read(st)))
  end
  lines:write(st, "QUIT"); st:close(); l:close()
end or nil)
