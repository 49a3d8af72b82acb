-- lunasock.stream: buffered reads and full writes over a core socket.
--
-- Reads keep one buffer string and an offset into it, so taking a line
-- copies only the line; the rest is copied once, when more data must be
-- appended. Writes go straight to the socket (nothing is held back, so
-- flush() has nothing to do) and send everything or report how much went.
-- Inside a loop task every wait suspends only that task.
local find, sub, concat, select, type = string.find, string.sub,
                                        table.concat, select, type
local setmetatable, error, tostring = setmetatable, error, tostring
local check = require "lunasock.check"

local M = {}

M.DEFAULT_CHUNK = 16384         -- bytes asked of recv per read
M.DEFAULT_MAX_LINE = 65536      -- readline/readuntil limit, bytes

local Stream = {}
Stream.__index = Stream
Stream.__name = "lunasock.stream"

-- stream.new(sock[, opts]) -> stream. opts: timeout (seconds, nil for
-- none: sets the socket's), max_line (bytes a readline or readuntil may
-- buffer), chunk (bytes per recv).
function M.new(sock, opts)
  if sock == nil then error("bad argument #1 to 'new' (socket expected)", 2) end
  opts = check.opts(opts, "new", 2)
  check.opt_integer(opts, "chunk", "new", 1, 0x7fffffff)
  check.opt_integer(opts, "max_line", "new", 0, math.maxinteger)
  check.opt_seconds(opts, "timeout", "new")
  local self = setmetatable({
    sock = sock,
    buf = "",
    pos = 1,
    eof = false,
    chunk = opts.chunk or M.DEFAULT_CHUNK,
    max_line = opts.max_line or M.DEFAULT_MAX_LINE,
  }, Stream)
  if opts.timeout ~= nil then sock:settimeout(opts.timeout) end
  return self
end

-- Appends one recv's worth to the buffer. Returns true, or nil, msg, code
-- ("closed" at EOF).
local function fill(self)
  if self.eof then return nil, "closed", "EOF" end
  local data, err, code = self.sock:recv(self.chunk)
  if not data then return nil, err, code end
  if data == "" then
    self.eof = true
    return nil, "closed", "EOF"
  end
  local buf, pos = self.buf, self.pos
  if pos > #buf then
    self.buf = data
  else
    self.buf = sub(buf, pos) .. data
  end
  self.pos = 1
  return true
end

-- stream:fill() -> true, or nil, msg, code: one recv appended to the
-- buffer, for a parser that scans self.buf from self.pos itself.
Stream.fill = fill

-- What is buffered and not yet read, taken out of the buffer.
local function take_rest(self)
  local rest = sub(self.buf, self.pos)
  self.buf, self.pos = "", 1
  return rest
end

-- A failed read: nil, msg, code, and what had come (if anything).
local function failure(self, err, code)
  local rest = take_rest(self)
  if rest == "" then return nil, err, code end
  return nil, err, code, rest
end

-- stream:read(n) -> exactly n bytes; nil, "closed", "EOF", partial at
-- EOF before n; nil, msg, code, partial on error or timeout. read() with
-- no count returns whatever is buffered, or one recv's worth.
function Stream:read(n)
  if n == nil then
    if self.pos > #self.buf then
      local ok, err, code = fill(self)
      if not ok then return nil, err, code end
    end
    return take_rest(self)
  end
  if math.type(n) ~= "integer" or n < 0 then
    error("bad argument #1 to 'read' (non-negative integer expected)", 2)
  end
  while #self.buf - self.pos + 1 < n do
    local ok, err, code = fill(self)
    if not ok then return failure(self, err, code) end
  end
  local pos = self.pos
  self.pos = pos + n
  return sub(self.buf, pos, pos + n - 1)
end

-- stream:readuntil(delim) -> the data before delim (delim consumed).
-- nil, "closed", "EOF", partial at EOF; nil, "line too long", "EMSGSIZE"
-- past max_line bytes (the buffer is kept: the caller may drop the
-- connection or read on with read()).
function Stream:readuntil(delim)
  if type(delim) ~= "string" or delim == "" then
    error("bad argument #1 to 'readuntil' (non-empty string expected)", 2)
  end
  local from = self.pos
  while true do
    local i, j = find(self.buf, delim, from, true)
    if i then
      local pos = self.pos
      -- exact, even when a long line came whole in one recv
      if i - pos > self.max_line then return nil, "line too long", "EMSGSIZE" end
      self.pos = j + 1
      return sub(self.buf, pos, i - 1)
    end
    local buffered = #self.buf - self.pos + 1
    if buffered > self.max_line then return nil, "line too long", "EMSGSIZE" end
    -- search again only where delim could start in the new data
    local keep = buffered - #delim + 1
    local ok, err, code = fill(self)
    if not ok then return failure(self, err, code) end
    from = keep > 0 and keep + 1 or 1
  end
end

-- stream:readline() -> the next line without its end (LF or CRLF). At
-- EOF a last line without an end is returned; after it, nil, "closed".
function Stream:readline()
  local line, err, code, partial = self:readuntil("\n")
  if line then
    if find(line, "\r", #line, true) then line = sub(line, 1, -2) end
    return line
  end
  if code == "EOF" and partial then return partial end
  return nil, err, code, partial
end

-- stream:lines() -> iterator over readline() until EOF or an error.
function Stream:lines()
  return function()
    return (self:readline())
  end
end

-- stream:readall() -> everything until EOF; nil, msg, code, partial on
-- error or timeout.
function Stream:readall()
  while true do
    local ok, err, code = fill(self)
    if not ok then
      if code == "EOF" then return take_rest(self) end
      return failure(self, err, code)
    end
  end
end

-- stream:write(...) -> true once every byte went out; nil, msg, code,
-- sent on error or timeout (sent: bytes of this call that went out).
function Stream:write(...)
  local data
  if select("#", ...) == 1 then
    data = ...
    if type(data) ~= "string" then data = tostring(data) end
  else
    data = concat({...})
  end
  local sock, sent, total = self.sock, 0, #data
  while sent < total do
    local n, err, code = sock:send(sent == 0 and data or sub(data, sent + 1))
    if not n then return nil, err, code, sent end
    sent = sent + n
  end
  return true
end

-- stream:flush() -> true: writes are never held back.
function Stream.flush(_)
  return true
end

-- stream:settimeout(s): the socket's timeout (nil: none).
function Stream:settimeout(s)
  self.sock:settimeout(s)
  return self
end

-- stream:buffered() -> bytes read from the socket and not yet returned
function Stream:buffered()
  return #self.buf - self.pos + 1
end

function Stream:close()
  return self.sock:close()
end

Stream.__close = Stream.close

function Stream:__tostring()
  return "lunasock.stream (" .. tostring(self.sock) .. ")"
end

M.Stream = Stream
return M
