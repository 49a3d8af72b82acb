-- Shared by the fuzz harnesses (fuzz/*.lua): reading choices out of the
-- input, failing loudly, and counting descriptors.
local core = require "lunasock.core"

local M = {}

-- A broken invariant: the driver aborts and libFuzzer keeps the input.
function M.fail(fmt, ...)
  error("FUZZ FAIL: " .. string.format(fmt, ...), 2)
end

function M.check(cond, fmt, ...)
  if not cond then M.fail(fmt, ...) end
end

-- A cursor over the input: byte(), int(lo, hi), take(n), rest().
function M.reader(data)
  local pos = 1
  local r = {}
  function r.byte()
    local b = data:byte(pos) or 0
    pos = pos + 1
    return b
  end
  function r.int(lo, hi)   -- an integer from lo to hi, from 1 or 2 bytes
    local span = hi - lo + 1
    local v = r.byte()
    if span > 256 then v = v * 256 + r.byte() end
    return lo + v % span
  end
  function r.take(n)
    local s = data:sub(pos, pos + n - 1)
    pos = pos + n
    return s
  end
  function r.rest()
    local s = data:sub(pos)
    pos = #data + 1
    return s
  end
  function r.left() return #data - pos + 1 end
  return r
end

-- Descriptors open in this process.
function M.fd_count()
  local names = assert(core.readdir("/proc/self/fd"))
  return #names
end

-- No descriptor leaks over many inputs: the count (after a collection)
-- stays within SLACK of the first one seen. Connections a server is still
-- closing, or a client pool keeps, account for the slack; a leak of one
-- per input passes it within a few inputs.
local baseline
M.SLACK = 8
function M.check_fds()
  collectgarbage("collect")
  local now = M.fd_count()
  baseline = baseline or now
  M.check(now <= baseline + M.SLACK, "descriptors: %d, were %d at the start", now, baseline)
end

-- Splits s into pieces whose sizes come from the reader (1..max bytes).
function M.pieces(r, s, max)
  local out, i = {}, 1
  while i <= #s do
    local n = r.int(1, max)
    out[#out + 1] = s:sub(i, i + n - 1)
    i = i + n
  end
  return out
end

-- An error report raised where errors must not be: a Lua error from a
-- parser that should have returned nil, msg, code.
function M.must_not_raise(what, fn, ...)
  local res = table.pack(pcall(fn, ...))
  if not res[1] then M.fail("%s raised: %s", what, tostring(res[2])) end
  return table.unpack(res, 2, res.n)
end

return M
