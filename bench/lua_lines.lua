-- lua_lines.lua SCRIPT [ARGS...] - runs a Lua server script with every
-- Lua VM instruction counted by source line (a count hook of 1 in the
-- main thread and in every coroutine made after this starts), for
-- lua_lines.sh. Every second the counts so far are written to the file
-- $LUA_LINES_OUT as "count<TAB>file:line" lines. Slow (a hook call per
-- instruction): for finding where a hot path's instructions go, never
-- for timing.
local out = assert(os.getenv("LUA_LINES_OUT"), "LUA_LINES_OUT not set")
local getinfo, sethook, time = debug.getinfo, debug.sethook, os.time
local counts, n, last = {}, 0, time()

local function dump()
  local f = assert(io.open(out .. ".tmp", "w"))
  for k, v in pairs(counts) do f:write(v, "\t", k, "\n") end
  f:close()
  os.rename(out .. ".tmp", out)
end

local function hook()
  local info = getinfo(2, "Sl")
  local key = info.short_src .. ":" .. info.currentline
  counts[key] = (counts[key] or 0) + 1
  n = n + 1
  if n % 64 == 0 and time() ~= last then
    last = time()
    dump()
  end
end

local create, wrap = coroutine.create, coroutine.wrap
function coroutine.create(f)
  local co = create(f)
  sethook(co, hook, "", 1)
  return co
end
function coroutine.wrap(f)
  local co = create(f)
  sethook(co, hook, "", 1)
  return function(...)
    local r = table.pack(coroutine.resume(co, ...))
    if not r[1] then error(r[2], 2) end
    return table.unpack(r, 2, r.n)
  end
end

local script = table.remove(arg, 1)
sethook(hook, "", 1)
dofile(script)
