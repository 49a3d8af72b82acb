-- lunasock.frame: message framing over a lunasock.stream, for protocol
-- prototypes. Four framers, each an object with read(stream) and
-- write(stream, msg) and a size limit (max):
--
--   frame.lines{max, eol}        text lines, LF or CRLF on input
--   frame.length(fmt[, {max}])   a string.pack integer length, then data
--   frame.netstring{max}         "len:data," (djb's netstrings)
--   frame.fixed(size)            records of exactly size bytes
--
-- read returns the message, or nil, msg, code:
--   nil, "closed", "EOF"               clean end between frames
--   nil, "truncated frame", "EPROTO"   the peer closed inside a frame
--   nil, msg, "EPROTO"                 a malformed frame
--   nil, msg, "EMSGSIZE"               a frame larger than max, refused from
--                                      its header before any payload is read
--   nil, msg, code                     the stream's own errors (ETIMEDOUT, ...)
-- After any error other than a clean EOF the byte stream has lost its
-- framing: close the connection. write returns true, or nil, msg, code
-- (and, from the stream, the bytes sent); a message the framer cannot
-- carry is refused before anything is written.
local type, tostring, error, setmetatable = type, tostring, error, setmetatable
local find, sub, match = string.find, string.sub, string.match
local pack, unpack, packsize = string.pack, string.unpack, string.packsize

local M = {}

M.DEFAULT_MAX = 1024 * 1024   -- bytes per message unless max says otherwise

local function checkmax(max, fname)
  if max == nil then return M.DEFAULT_MAX end
  if math.type(max) ~= "integer" or max < 0 then
    error(("bad option 'max' to '%s' (non-negative integer expected)"):format(fname), 3)
  end
  return max
end

local function checkmsg(msg)
  if type(msg) ~= "string" then
    error("bad argument #2 to 'write' (string expected, got " .. type(msg) .. ")", 3)
  end
end

local function too_big(n, max)
  return nil, ("frame of %s bytes exceeds the limit of %d"):format(tostring(n), max), "EMSGSIZE"
end

-- A read that ended early: a clean EOF only with nothing of a frame read.
local function ended(err, code, partial)
  if code == "EOF" then
    if partial == nil or partial == "" then return nil, "closed", "EOF" end
    return nil, "truncated frame", "EPROTO"
  end
  return nil, err, code
end

-- The stream's readuntil with the line limit set to limit for this call.
local function readuntil(st, delim, limit)
  local saved = st.max_line
  st.max_line = limit
  local data, err, code, partial = st:readuntil(delim)
  st.max_line = saved
  return data, err, code, partial
end

---------------------------------------------------------------- lines

local Lines = {}
Lines.__index = Lines
Lines.__name = "lunasock.frame.lines"

-- frame.lines{max = bytes, eol = "\n" | "\r\n"}: read takes a line ended
-- by LF or CRLF (without its end); write appends eol (default "\n").
function M.lines(opts)
  opts = opts or {}
  local eol = opts.eol or "\n"
  if eol ~= "\n" and eol ~= "\r\n" then
    error("bad option 'eol' to 'lines' ('\\n' or '\\r\\n' expected)", 2)
  end
  return setmetatable({max = checkmax(opts.max, "lines"), eol = eol}, Lines)
end

function Lines:read(st)
  -- +1: the CR of a CRLF line end is still on the line here
  local line, err, code, partial = readuntil(st, "\n", self.max + 1)
  if not line then
    if code == "EMSGSIZE" then return too_big("more than " .. self.max, self.max) end
    return ended(err, code, partial)
  end
  if sub(line, -1) == "\r" then line = sub(line, 1, -2) end
  if #line > self.max then return too_big(#line, self.max) end
  return line
end

function Lines:write(st, msg)
  checkmsg(msg)
  if #msg > self.max then return too_big(#msg, self.max) end
  if find(msg, "[\r\n]") then return nil, "a line cannot contain CR or LF", "EINVAL" end
  return st:write(msg, self.eol)
end

---------------------------------------------------------------- length

local Length = {}
Length.__index = Length
Length.__name = "lunasock.frame.length"

-- frame.length(fmt[, {max = bytes}]): a length prefix packed with the
-- string.pack integer format fmt (">I2", "<I4", ">i4", "I8", ...; "s4"
-- and "<s2" mean an unsigned length of that many bytes), then the data.
function M.length(fmt, opts)
  if type(fmt) ~= "string" then
    error("bad argument #1 to 'length' (string.pack integer format expected)", 2)
  end
  local endian, kind, size = match(fmt, "^([<>=]?)([bBhHiIlLjJTs])(%d*)$")
  if not kind then
    error(("bad argument #1 to 'length' (one integer format expected, got '%s')"):format(fmt), 2)
  end
  if kind == "s" then kind = "I" end   -- "sN": an N-byte unsigned length
  local prefix = endian .. kind .. size
  local ok, bytes = pcall(packsize, prefix)
  if not ok then error("bad argument #1 to 'length' (" .. bytes .. ")", 2) end
  local signed = kind == "b" or kind == "h" or kind == "i" or kind == "l" or kind == "j"
  -- the largest length the prefix can carry (Lua integers are 64-bit)
  local bits = bytes * 8 - (signed and 1 or 0)
  local carry = bits >= 63 and math.maxinteger or (1 << bits) - 1
  opts = opts or {}
  local max = checkmax(opts.max, "length")
  return setmetatable({fmt = prefix, bytes = bytes, max = max < carry and max or carry},
                      Length)
end

function Length:read(st)
  local head, err, code, partial = st:read(self.bytes)
  if not head then return ended(err, code, partial) end
  local n = unpack(self.fmt, head)
  -- negative: a signed prefix below zero, or an unsigned 8-byte one
  -- past 2^63 that Lua's integers wrap
  if n < 0 then return nil, ("bad frame length %d"):format(n), "EPROTO" end
  if n > self.max then return too_big(n, self.max) end
  local data
  data, err, code = st:read(n)
  if not data then
    if code == "EOF" then return nil, "truncated frame", "EPROTO" end
    return nil, err, code
  end
  return data
end

function Length:write(st, msg)
  checkmsg(msg)
  if #msg > self.max then return too_big(#msg, self.max) end
  return st:write(pack(self.fmt, #msg), msg)
end

---------------------------------------------------------------- netstring

local Netstring = {}
Netstring.__index = Netstring
Netstring.__name = "lunasock.frame.netstring"

-- frame.netstring{max = bytes}: "12:hello world!," — decimal length with
-- no leading zeros (except "0"), a colon, the data, a comma.
function M.netstring(opts)
  opts = opts or {}
  local max = checkmax(opts.max, "netstring")
  return setmetatable({max = max, digits = #tostring(max)}, Netstring)
end

function Netstring:read(st)
  local len, err, code, partial = readuntil(st, ":", self.digits)
  if not len then
    if code == "EMSGSIZE" then return too_big("more than " .. self.max, self.max) end
    return ended(err, code, partial)
  end
  if not find(len, "^%d+$") then return nil, "bad netstring length", "EPROTO" end
  if #len > 1 and sub(len, 1, 1) == "0" then
    return nil, "netstring length with a leading zero", "EPROTO"
  end
  local n = tonumber(len)
  if n > self.max then return too_big(n, self.max) end
  local data
  data, err, code = st:read(n + 1)
  if not data then
    if code == "EOF" then return nil, "truncated frame", "EPROTO" end
    return nil, err, code
  end
  if sub(data, -1) ~= "," then return nil, "netstring without its comma", "EPROTO" end
  return sub(data, 1, -2)
end

function Netstring:write(st, msg)
  checkmsg(msg)
  if #msg > self.max then return too_big(#msg, self.max) end
  return st:write(#msg, ":", msg, ",")
end

---------------------------------------------------------------- fixed

local Fixed = {}
Fixed.__index = Fixed
Fixed.__name = "lunasock.frame.fixed"

-- frame.fixed(size): records of exactly size bytes.
function M.fixed(size)
  if math.type(size) ~= "integer" or size < 1 then
    error("bad argument #1 to 'fixed' (positive integer expected)", 2)
  end
  return setmetatable({size = size, max = size}, Fixed)
end

function Fixed:read(st)
  local data, err, code, partial = st:read(self.size)
  if not data then return ended(err, code, partial) end
  return data
end

function Fixed:write(st, msg)
  checkmsg(msg)
  if #msg ~= self.size then
    return nil, ("a record is %d bytes, not %d"):format(self.size, #msg), "EINVAL"
  end
  return st:write(msg)
end

M.Lines, M.Length, M.Netstring, M.Fixed = Lines, Length, Netstring, Fixed
return M
