-- fuzz harness: lunasock.http's server (request heads, fields, bodies,
-- chunked decoding, keep-alive), end to end over loopback against a
-- server in this process. Each input is one connection's bytes, sent in
-- pieces and then half-closed. Invariants: no task fails (a handler or
-- the server raising); the server answers with HTTP/1.x status lines,
-- each status a 3-digit code; descriptors go back to where they were.
local http = require "lunasock.http"
local loop = require "lunasock.loop"
local F = require "fuzzlib"
local net = require "netfuzz"

local port
net.run(function()
  local srv = assert(http.server{host = "127.0.0.1", port = 0,
    handler = function(req)
      -- reads the whole body (decoded), and answers with its length; a
      -- request without one gets the fast path's answer (status and a
      -- string: the server's cycle in C sends it)
      local body = req:read_body() or ""
      if body == "" then return 200, nil, "empty\n" end
      return 200, {["content-type"] = "text/plain"}, #body .. "\n"
    end})
  port = srv.port
end)

return function(data)
  local r = F.reader(data)
  local pieces = F.pieces(r, r.rest(), 200)
  local out = net.run(function()
    local o = net.exchange(port, pieces, true)
    loop.sleep(0)
    return o
  end)
  if out ~= "" then
    F.check(out:match("^HTTP/1%.[01] %d%d%d[^\r\n]*\r\n"), "not a status line: %q", out:sub(1, 80))
  end
  F.check_fds()
end
