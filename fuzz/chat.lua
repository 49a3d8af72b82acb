-- fuzz harness: lunasock.chat's line handling, over loopback against a
-- server running in this process. Each input is one client's bytes
-- (sent in pieces, then a half-close); an observer client in the lobby
-- sees what is relayed. Invariants: no server task fails; everything the
-- server sends is whole lines ending in CRLF without control characters
-- (a peer's bytes never reach others raw); descriptors go back to where
-- they were.
local chat = require "lunasock.chat"
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local F = require "fuzzlib"
local net = require "netfuzz"

local CONTROL = "[%z\1-\8\11\12\14-\31\127]"

local server, observer, port
net.run(function()
  server = assert(chat.serve{port = 0, max_line = 300, max_queue = 1 << 20,
                             idle_timeout = 5})
  port = server.port
  observer = assert(lunasock.tcp.connect("127.0.0.1", port, {timeout = 2}))
  assert(observer:send("observer\r\n"))
end)

local function drain_observer()
  local out = {}
  observer:settimeout(0)
  while true do
    local d = observer:recv(65536)
    if not d or d == "" then break end
    out[#out + 1] = d
  end
  local text = table.concat(out)
  F.check(not text:find(CONTROL), "control byte relayed to another client: %q", text)
end

return function(data)
  local r = F.reader(data)
  local body = r.rest()
  local pieces = F.pieces(F.reader(data), body, 64)
  local out = net.run(function()
    local o = net.exchange(port, pieces, true)
    loop.sleep(0)   -- let the server finish the connection
    drain_observer()
    return o
  end)
  F.check(out == "" or out:sub(-2) == "\r\n", "output does not end a line: %q", out:sub(-40))
  F.check(not out:find(CONTROL), "control byte in output: %q", out)
  F.check_fds()
end
