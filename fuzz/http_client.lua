-- fuzz harness: lunasock.http's client response parser (status line,
-- fields, Content-Length, chunked bodies, trailers, close-delimited
-- bodies, redirects to the same server), end to end: a listener in this
-- process answers the client's request with the input's bytes, sent in
-- pieces, then closes. Invariants: http.request never raises; it returns
-- a response (integer status 100-999, a string body) or nil, msg, code;
-- descriptors go back to where they were.
local http = require "lunasock.http"
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local F = require "fuzzlib"
local net = require "netfuzz"

local listener, port
net.run(function()
  listener = assert(lunasock.tcp.listen("127.0.0.1", 0))
  port = select(2, listener:getsockname())
end)

return function(data)
  local r = F.reader(data)
  local method = ({"GET", "HEAD", "POST"})[r.int(1, 3)]
  local pieces = F.pieces(r, r.rest(), 300)
  local res = net.run(function()
    local server = loop.spawn(function()
      local c = listener:accept()
      if not c then return end
      c:settimeout(net.TIMEOUT)
      c:recv(65536)   -- the request
      for _, p in ipairs(pieces) do
        if not c:send(p) then break end
      end
      c:close()
    end)
    local ok, a, b, c = pcall(http.request, {method = method,
      url = "http://127.0.0.1:" .. port .. "/x", timeout = net.TIMEOUT,
      body = method == "POST" and "abc" or nil, redirects = 0})
    server:cancel()
    return table.pack(ok, a, b, c)
  end)
  F.check(res[1], "http.request raised: %s", tostring(res[2]))
  local resp, msg, code = res[2], res[3], res[4]
  if resp then
    F.check(math.type(resp.status) == "integer" and resp.status >= 100 and resp.status <= 999,
            "status %s", tostring(resp.status))
    F.check(resp.body == nil or type(resp.body) == "string", "body type")
  else
    F.check(type(msg) == "string" and type(code) == "string", "error triple: %s %s",
            tostring(msg), tostring(code))
  end
  F.check_fds()
end
