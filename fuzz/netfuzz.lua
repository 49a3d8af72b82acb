-- Shared by the harnesses that drive a real server or client over
-- loopback inside one process: one loop run per input, bounded; the
-- tasks the run leaves (a server's accept loop) wait for the next one.
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local F = require "fuzzlib"

local M = {}

M.errors = {}
loop.on_error = function(_, msg) M.errors[#M.errors + 1] = msg end

M.TIMEOUT = 2   -- seconds any one exchange may take

-- Runs fn() as a task in a run of the loop that stops when fn returns.
function M.run(fn)
  local res
  local ok, err = pcall(loop.run, function()
    res = table.pack(fn())
    loop.stop()
  end)
  if not ok then F.fail("loop.run raised: %s", tostring(err)) end
  if #M.errors > 0 then
    local msg = M.errors[1]
    M.errors = {}
    F.fail("a task failed: %s", msg)
  end
  return table.unpack(res or {}, 1, res and res.n or 0)
end

-- Connects to port, sends pieces (stopping at the first error: the
-- server may close early), optionally half-closes, and reads everything
-- until EOF, an error or M.TIMEOUT. Returns what came back.
function M.exchange(port, pieces, half_close)
  local c = assert(lunasock.tcp.connect("127.0.0.1", port, {timeout = M.TIMEOUT}))
  for _, p in ipairs(pieces) do
    if not c:send(p) then break end
  end
  if half_close then c:shutdown("w") end
  local out = {}
  local deadline = loop.now() + M.TIMEOUT
  while loop.now() < deadline do
    c:settimeout(math.max(deadline - loop.now(), 0.001))
    local d = c:recv(65536)
    if not d or d == "" then break end
    out[#out + 1] = d
  end
  c:close()
  return table.concat(out)
end

return M
