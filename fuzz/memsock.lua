-- An in-memory stand-in for a connected core socket, for the fuzz
-- harnesses: recv hands out the input in pieces of the sizes given (an
-- entry false is one ETIMEDOUT), then "" (EOF); send collects what is
-- written.
local M = {}
local Sock = {}
Sock.__index = Sock

function M.new(pieces)
  return setmetatable({pieces = pieces, i = 1, out = {}, closed = false}, Sock)
end

function Sock:recv(n)
  assert(math.type(n) == "integer" and n >= 0, "recv: bad count " .. tostring(n))
  assert(not self.closed, "recv on a closed socket")
  local piece = self.pieces[self.i]
  if piece == nil then return "" end
  if piece == false then
    self.i = self.i + 1
    return nil, "timed out", "ETIMEDOUT"
  end
  if #piece <= n then
    self.i = self.i + 1
    return piece
  end
  self.pieces[self.i] = piece:sub(n + 1)
  return piece:sub(1, n)
end

function Sock:send(data)
  self.out[#self.out + 1] = data
  return #data
end

function Sock.settimeout() end
function Sock.setopt() return true end
function Sock:close() self.closed = true return true end
function Sock.getpeername() return "127.0.0.1", 1 end

return M
