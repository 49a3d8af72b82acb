-- bench/util.lua - what the Lua bench scripts share; loaded with dofile
-- (the scripts run with LUA_PATH on lua/, not bench/):
--   local util = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/util.lua")
local M = {}

-- This process's resident set (VmRSS), in KiB.
function M.rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local kb = tonumber(f:read("a"):match("VmRSS:%s*(%d+)"))
  f:close()
  return kb
end

-- lunasock.stream, or with STREAM=old the stream module of git revision
-- f16ccd2 (before issue 11: every recv copied the whole buffer); and a
-- label for the output.
function M.stream()
  if os.getenv("STREAM") == "old" then
    local p = assert(io.popen("git show f16ccd2:lua/lunasock/stream.lua"))
    local stream = assert(load(p:read("a"), "=old stream"))()
    p:close()
    return stream, "before (f16ccd2)"
  end
  return require "lunasock.stream", "now"
end

return M
