-- soak/server.lua KIND: one of the servers make soak puts under faults
-- (http, chat or echo), on 127.0.0.1, port 0, with its defaults. Prints
-- "READY <pid> <port>" once listening, then serves until killed (the
-- driver sends SIGTERM to the pid it was given) or until stdin closes.
-- Run by soak.lua under a lowered descriptor limit (ulimit -n).
local core = require "lunasock.core"
local loop = require "lunasock.loop"

local kind = arg[1]
local server
loop.run(function()
  if kind == "http" then
    local http = require "lunasock.http"
    local app = http.router()
    app:get("/", function() return 200, {["content-type"] = "text/plain"}, "hello\n" end)
    app:post("/echo", function(req)
      local body, err = req:read_body()
      if not body then return 400, nil, tostring(err) end
      return 200, {["content-type"] = "application/octet-stream"}, body
    end)
    server = assert(http.server{host = "127.0.0.1", port = 0, handler = app,
                                access_log = function() end})
  elseif kind == "chat" then
    server = assert(require("lunasock.chat").serve{host = "127.0.0.1", port = 0})
  elseif kind == "echo" then
    server = assert(require("lunasock.echo").serve{host = "127.0.0.1", port = 0})
  else
    error("usage: server.lua http|chat|echo")
  end
  io.stdout:write("READY ", core.getpid(), " ", server.port, "\n")
  io.stdout:flush()
  loop.stop()
end)
-- errors in tasks are counted on stderr by the loop's reporter; the
-- driver collects stderr
loop.run()
