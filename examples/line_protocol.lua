#!/usr/bin/env lua5.4
-- A key-value store over lunasock.frame.lines: SET k v, GET k, DEL k, KEYS, QUIT.
-- Usage: lua5.4 examples/line_protocol.lua    (a server and a scripted client)
--        lua5.4 examples/line_protocol.lua --serve [--host H] [--port N]  (then: nc H N)
local lunasock, loop, store = require "lunasock", require "lunasock.loop", {}
local stream, lines = require "lunasock.stream", require("lunasock.frame").lines{max = 4096}
local commands = {
  SET = function(k, v) if v then store[k] = v return "OK" end return "ERR usage: SET k v" end,
  GET = function(k) return store[k] and "VALUE " .. store[k] or "NONE" end,
  DEL = function(k) local had = store[k] store[k] = nil return had and "DELETED" or "NONE" end,
  KEYS = function() local t = {} for k in pairs(store) do t[#t + 1] = k end
    table.sort(t) return "KEYS " .. table.concat(t, " ") end,
}
local function serve(st)
  for line in function() return lines:read(st) end do     -- until EOF or a bad line
    local cmd, k, v = line:match("^%s*(%a*)%s*(%S*)%s*(.-)%s*$")
    if cmd:upper() == "QUIT" then break end
    local fn = commands[cmd:upper()] or function() return "ERR unknown command" end
    if not lines:write(st, fn(k, v ~= "" and v or nil)) then break end
  end                                    -- tcp.serve closes st after
end
local args = " " .. table.concat(arg, " ") .. " "
local server = assert(lunasock.tcp.serve(args:match(" %-%-host (%S+) ") or "127.0.0.1",
                                         tonumber(args:match(" %-%-port (%d+) ")) or 0, serve))
local host, port = server.host, server.port
if args:find(" %-%-serve ") then                     -- serve until killed
  print(("listening on %s:%d"):format(host, port)) io.stdout:flush() return loop.run() end
loop.run(function()
  local st = stream.new(assert(lunasock.tcp.connect(host, port, {timeout = 5})))
  for _, req in ipairs{"SET color blue", "SET size L", "GET color", "KEYS", "DEL size",
                       "GET size", "FLY away", "QUIT"} do
    assert(lines:write(st, req)) local reply, err = lines:read(st)
    print(("> %-16s < %s"):format(req, reply or err))
  end
  st:close() server:close()
end)
