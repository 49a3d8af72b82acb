-- lunasock.check: the range checks every module makes on its numeric
-- arguments and options, once, at the door (the public function that
-- receives them). A value out of range is a programmer error, so each
-- check raises, with a message naming the argument or option and the
-- valid range, at the caller of the door:
--
--   bad option 'timeout' to 'connect' (number from 0 to 1e+09 expected, got nan)
--
-- Integers follow luaL_checkinteger: a float with an exact integer value
-- (1e6) is taken, 2.5, NaN and infinities are not. Seconds are finite
-- numbers from 0 to MAX_SECONDS (core's own limit for a timeout).
-- (No check here ends in a tail call: the error levels count frames.)
local type, error, tostring, pairs, select = type, error, tostring, pairs, select
local format = string.format
local tointeger, mtype = math.tointeger, math.type

local M = {}

-- Largest number of seconds any timeout, delay or sleep may be: about 31
-- years, as lunasock.core accepts (LSK_MAX_TIMEOUT).
M.MAX_SECONDS = 1e9

local function show(v)
  if type(v) == "number" then
    if v ~= v then return "nan" end
    if mtype(v) == "float" then return format("%.17g", v) end
    return tostring(v)
  end
  if type(v) == "string" then return format("string %q", v:sub(1, 40)) end
  return type(v)
end

-- what: "argument #2" or "option 'max'"; fname: the door's name
local function fail(what, fname, expected, v, level)
  error(format("bad %s to '%s' (%s expected, got %s)", what, fname, expected,
               show(v)), level + 1)
end

local function what_of(name)
  if type(name) == "number" then return "argument #" .. name end
  return "option '" .. name .. "'"
end

-- check.integer(v, name, fname, lo, hi[, level]) -> v as an integer.
-- name: an argument position (number) or an option name (string). lo and
-- hi bound it (inclusive). level (default 2) is where the door is: the
-- error points at the door's caller.
function M.integer(v, name, fname, lo, hi, level)
  level = (level or 2) + 1
  local i = type(v) == "number" and tointeger(v)
  if not i or i < lo or i > hi then
    fail(what_of(name), fname, format("integer from %d to %d", lo, hi), v, level)
  end
  return i
end

-- check.seconds(v, name, fname[, level]) -> v: a duration, finite, from 0
-- to MAX_SECONDS.
function M.seconds(v, name, fname, level)
  level = (level or 2) + 1
  if type(v) ~= "number" or not (v >= 0 and v <= M.MAX_SECONDS) then
    fail(what_of(name), fname, format("number of seconds from 0 to %g",
                                      M.MAX_SECONDS), v, level)
  end
  return v
end

-- check.timeout(v, name, fname[, level]) -> v: seconds, or nil (no limit).
function M.timeout(v, name, fname, level)
  if v == nil then return nil end
  M.seconds(v, name, fname, (level or 2) + 1)
  return v
end

-- check.opt_integer(opts, key, fname, lo, hi[, level]) -> opts[key]
-- checked as an integer, or nil when absent.
function M.opt_integer(opts, key, fname, lo, hi, level)
  local v = opts[key]
  if v == nil then return nil end
  local i = M.integer(v, key, fname, lo, hi, (level or 2) + 1)
  return i
end

-- check.opt_seconds(opts, key, fname[, level]) -> opts[key] checked as
-- seconds, or nil when absent.
function M.opt_seconds(opts, key, fname, level)
  local v = opts[key]
  if v == nil then return nil end
  M.seconds(v, key, fname, (level or 2) + 1)
  return v
end

-- check.opt_boolean(opts, key, fname[, level]) -> opts[key]: true, false
-- or nil (absent); anything else raises ("yes" is not a boolean: a
-- {nodelay = "no"} must not mean on).
function M.opt_boolean(opts, key, fname, level)
  local v = opts[key]
  if v ~= nil and type(v) ~= "boolean" then
    fail(what_of(key), fname, "boolean", v, (level or 2) + 1)
  end
  return v
end

-- check.opt_address(opts, fname[, level]): opts.host a string or nil,
-- opts.port an integer from 0 to 65535 (or a service name) or nil: for a
-- server door that takes its address as options (chat.serve, echo.serve).
function M.opt_address(opts, fname, level)
  level = (level or 2) + 1
  local host, port = opts.host, opts.port
  if host ~= nil and type(host) ~= "string" then
    fail("option 'host'", fname, "string", host, level)
  end
  if type(port) == "number" then
    M.integer(port, "port", fname, 0, 65535, level)
  elseif port ~= nil and type(port) ~= "string" then
    fail("option 'port'", fname, "port", port, level)
  end
end

-- check.opts(opts, fname[, argn[, level]]) -> opts, or {} for nil; raises
-- for anything but a table.
function M.opts(opts, fname, argn, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    fail("argument #" .. (argn or 1), fname, "table", opts, (level or 2) + 1)
  end
  return opts
end

-- check.known(opts, fname, known[, level[, what]]) -> opts: raises
-- "unknown option 'nodely' to 'tcp.listen'" for a key of opts that the
-- set known (name -> true) lacks. Every public function that takes an
-- options table calls it first: a misspelt option must never be ignored
-- silently (a {tsl = ctx} would serve plaintext). what (default
-- "option") names the kind, as in "unknown stream option".
function M.known(opts, fname, known, level, what)
  for k in pairs(opts) do
    if not known[k] then
      error(format("unknown %s %s to '%s'", what or "option",
                   type(k) == "string" and "'" .. k .. "'" or show(k), fname),
            (level or 2) + 1)
    end
  end
  return opts
end

-- check.set(...) -> one set holding the keys of every set given.
function M.set(...)
  local s = {}
  for i = 1, select("#", ...) do
    for k in pairs((select(i, ...))) do s[k] = true end
  end
  return s
end

return M
