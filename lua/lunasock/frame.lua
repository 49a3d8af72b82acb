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
--   nil, "truncated frame", "EPROTO", partial
--                                      the peer closed inside a frame
--                                      (partial: the bytes of it that came)
--   nil, msg, "EPROTO"                 a malformed frame
--   nil, msg, "EMSGSIZE"               a frame larger than max, refused from
--                                      its header before any payload is read
--   nil, msg, code                     the stream's own errors (ETIMEDOUT,
--                                      EAGAIN, ECONNRESET, ...)
-- A stream error leaves the frame's bytes unread in the stream, so a read
-- that timed out can simply be called again. After EPROTO or EMSGSIZE the
-- byte stream has lost its framing: close the connection. write returns
-- true, or nil, msg, code[, sent] (from the stream: bytes that went out);
-- a message the framer cannot carry is refused before anything is written.
--
-- Only the stream's public calls are used: readuntil with a limit, read,
-- and unread to put back what a failed read took.
local type, tostring, error, setmetatable, getmetatable, pcall =
  type, tostring, error, setmetatable, getmetatable, pcall
local find, sub, byte, match, format =
  string.find, string.sub, string.byte, string.match, string.format
local pack, unpack, packsize = string.pack, string.unpack, string.packsize
local mtype, maxinteger = math.type, math.maxinteger
local check = require "lunasock.check"

local M = {}

M.DEFAULT_MAX = 1024 * 1024   -- bytes per message unless max says otherwise

local function checkmax(max, fname)
  if max == nil then return M.DEFAULT_MAX end
  if mtype(max) ~= "integer" or max < 0 then
    error(format("bad option 'max' to '%s' (non-negative integer expected)", fname), 3)
  end
  return max
end

-- Misuse raises (error level 3: the caller of read/write): a framer
-- called with a dot instead of a colon, or something that is not a stream.
local function checkcall(self, class, st, fname)
  if getmetatable(self) ~= class then
    error(format("bad self to '%s' (%s expected; call it as f:%s(stream, ...))",
                 fname, class.__name, fname), 3)
  end
  if type(st) ~= "table" or type(st.read) ~= "function" then
    error(format("bad argument #1 to '%s' (lunasock.stream expected, got %s)",
                 fname, type(st)), 3)
  end
end

local function checkmsg(msg)
  if type(msg) ~= "string" then
    error("bad argument #2 to 'write' (string expected, got " .. type(msg) .. ")", 3)
  end
end

local function too_big(n, max)
  return nil, format("frame of %s bytes exceeds the limit of %d", n, max), "EMSGSIZE"
end

-- A frame read that stopped early: the stream said nil, err, code,
-- partial after consumed bytes of this frame had been taken from it.
-- EOF with nothing of the frame is a clean end; EOF inside a frame is a
-- truncated frame; any other error puts the bytes back.
local function stopped(st, consumed, err, code, partial)
  local got = consumed .. (partial or "")
  if code == "EOF" then
    if got == "" then return nil, "closed", "EOF" end
    return nil, "truncated frame", "EPROTO", got
  end
  st:unread(got)
  return nil, err, code
end

---------------------------------------------------------------- lines

local Lines = {}
Lines.__index = Lines
Lines.__name = "lunasock.frame.lines"

-- frame.lines{max = bytes, eol = "\n" | "\r\n"}: read takes a line ended
-- by LF or CRLF (without its end); write appends eol (default "\n").
-- max counts the line without its end.
local LINES_OPTS, MAX_OPTS = {max = true, eol = true}, {max = true}

function M.lines(opts)
  opts = check.known(check.opts(opts, "frame.lines"), "frame.lines", LINES_OPTS)
  local eol = opts.eol or "\n"
  if eol ~= "\n" and eol ~= "\r\n" then
    error("bad option 'eol' to 'lines' ('\\n' or '\\r\\n' expected)", 2)
  end
  return setmetatable({max = checkmax(opts.max, "lines"), eol = eol}, Lines)
end

function Lines:read(st)
  checkcall(self, Lines, st, "read")
  -- +1: the CR of a CRLF line end is still on the line here
  local limit = self.max < maxinteger and self.max + 1 or self.max
  local line, err, code, partial = st:readuntil("\n", limit)
  if not line then
    if code == "EMSGSIZE" then return too_big("more than " .. self.max, self.max) end
    return stopped(st, "", err, code, partial)
  end
  if sub(line, -1) == "\r" then line = sub(line, 1, -2) end
  if #line > self.max then return too_big(#line, self.max) end
  return line
end

function Lines:write(st, msg)
  checkcall(self, Lines, st, "write")
  checkmsg(msg)
  if #msg > self.max then return too_big(#msg, self.max) end
  if find(msg, "[\r\n]") then return nil, "a line cannot contain CR or LF", "EINVAL" end
  return st:write(msg, self.eol)
end

---------------------------------------------------------------- length

local Length = {}
Length.__index = Length
Length.__name = "lunasock.frame.length"

local SIGNED = {b = true, h = true, i = true, l = true, j = true}
local LITTLE = pack("=I2", 1) == "\1\0"   -- the native byte order

-- frame.length(fmt[, {max = bytes}]): a length prefix packed with the
-- string.pack integer format fmt (">I2", "<I4", ">i4", "I8", "B", ...),
-- then the data. "sN" (and "<sN", ">sN", "s" alone) means what
-- string.pack's own "sN" writes: an unsigned N-byte length (size_t for a
-- bare "s") in the given or native byte order. max is capped at the
-- largest length the prefix can carry.
function M.length(fmt, opts)
  if type(fmt) ~= "string" then
    error("bad argument #1 to 'length' (string.pack integer format expected)", 2)
  end
  local endian, kind, size = match(fmt, "^([<>=]?)([bBhHiIlLjJTs])(%d*)$")
  if not kind then
    error(format("bad argument #1 to 'length' (one integer format expected, got '%s')",
                 fmt), 2)
  end
  if kind == "s" then kind = size == "" and "T" or "I" end
  local prefix = endian .. kind .. size
  local ok, bytes = pcall(packsize, prefix)
  if not ok then error("bad argument #1 to 'length' (" .. bytes .. ")", 2) end
  local signed = SIGNED[kind] or false
  -- the largest length the prefix can carry (Lua integers are 64-bit)
  local bits = bytes * 8 - (signed and 1 or 0)
  local carry = bits >= 63 and maxinteger or (1 << bits) - 1
  opts = check.known(check.opts(opts, "frame.length", 2), "frame.length", MAX_OPTS)
  local max = checkmax(opts.max, "length")
  local little = endian == "<" or (endian ~= ">" and LITTLE)
  return setmetatable({fmt = prefix, bytes = bytes, signed = signed,
                       max = max < carry and max or carry,
                       sign_at = little and bytes or 1}, Length)
end

-- The length in a prefix, or nil, msg, code for one no frame can have.
local function length_of(self, head)
  local ok, n = pcall(unpack, self.fmt, head)
  if not ok then
    -- a 9-to-16-byte prefix whose value does not fit in a Lua integer
    if self.signed and byte(head, self.sign_at) >= 0x80 then
      return nil, "negative frame length", "EPROTO"
    end
    return too_big("more than " .. maxinteger, self.max)
  end
  if n < 0 then
    if self.signed then return nil, format("negative frame length %d", n), "EPROTO" end
    -- an unsigned 8-byte length past 2^63, which Lua's integers wrap
    return too_big(format("%u", n), self.max)
  end
  if n > self.max then return too_big(n, self.max) end
  return n
end

function Length:read(st)
  checkcall(self, Length, st, "read")
  local head, err, code, partial = st:read(self.bytes)
  if not head then return stopped(st, "", err, code, partial) end
  local n
  n, err, code = length_of(self, head)
  if not n then return nil, err, code end
  local data
  data, err, code, partial = st:read(n)
  if not data then return stopped(st, head, err, code, partial) end
  return data
end

function Length:write(st, msg)
  checkcall(self, Length, st, "write")
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
  opts = check.known(check.opts(opts, "frame.netstring"), "frame.netstring", MAX_OPTS)
  -- at most maxinteger - 1: the data and its comma are read as one count
  local max = checkmax(opts.max, "netstring")
  if max == maxinteger then max = maxinteger - 1 end
  return setmetatable({max = max}, Netstring)
end

-- The length is read one byte at a time from the stream's buffer, so a
-- bad byte is refused where it stands and a length is refused as soon as
-- its digits so far exceed max, without waiting for the colon.
function Netstring:read(st)
  checkcall(self, Netstring, st, "read")
  local max, n, digits = self.max, 0, 0
  while true do
    local c, err, code, partial = st:read(1)
    if not c then return stopped(st, digits > 0 and tostring(n) or "", err, code, partial) end
    if c == ":" then break end
    local d = byte(c) - 48
    if d < 0 or d > 9 then
      return nil, format("bad netstring length (%q after %d digits)", c, digits), "EPROTO"
    end
    if digits == 1 and n == 0 then
      return nil, "netstring length with a leading zero", "EPROTO"
    end
    if n > (max - d) // 10 then   -- n * 10 + d > max, without overflow
      return too_big("more than " .. max, max)
    end
    n, digits = n * 10 + d, digits + 1
  end
  if digits == 0 then return nil, "empty netstring length", "EPROTO" end
  local data, err, code, partial = st:read(n + 1)
  if not data then return stopped(st, n .. ":", err, code, partial) end
  if byte(data, -1) ~= 44 then   -- ","
    return nil, "netstring without its comma", "EPROTO"
  end
  return sub(data, 1, -2)
end

function Netstring:write(st, msg)
  checkcall(self, Netstring, st, "write")
  checkmsg(msg)
  if #msg > self.max then return too_big(#msg, self.max) end
  return st:write(#msg .. ":", msg, ",")
end

---------------------------------------------------------------- fixed

local Fixed = {}
Fixed.__index = Fixed
Fixed.__name = "lunasock.frame.fixed"

-- frame.fixed(size): records of exactly size bytes (max is size).
function M.fixed(size)
  if mtype(size) ~= "integer" or size < 1 then
    error("bad argument #1 to 'fixed' (positive integer expected)", 2)
  end
  return setmetatable({size = size, max = size}, Fixed)
end

function Fixed:read(st)
  checkcall(self, Fixed, st, "read")
  local data, err, code, partial = st:read(self.size)
  if not data then return stopped(st, "", err, code, partial) end
  return data
end

function Fixed:write(st, msg)
  checkcall(self, Fixed, st, "write")
  checkmsg(msg)
  if #msg ~= self.size then
    return nil, format("a record is %d bytes, not %d", self.size, #msg), "EINVAL"
  end
  return st:write(msg)
end

M.Lines, M.Length, M.Netstring, M.Fixed = Lines, Length, Netstring, Fixed
return M
