-- lunasock.http.body: HTTP/1.1 message bodies over a lunasock.stream,
-- shared by the server and the client.
--
-- API
--
--   body.fixed(stream, n) -> reader
--       A Content-Length body of n bytes (an integer >= 0).
--   body.chunked(stream[, limits]) -> reader
--       A chunked body (RFC 9112 section 7.1). The chunk size is hex digits
--       only (no sign, no spaces, no "0x"); more than 15 significant hex
--       digits is an overflow and is rejected. Chunk extensions
--       (;name[=token|"quoted"]) are checked for syntax and ignored. The
--       trailer section is parsed like header fields and, once the reader
--       has returned nil, is in reader.trailers (lower-case names; repeated
--       names joined with ", "; an empty table when there were none).
--       limits (all optional): max_body (decoded bytes; false for none),
--       max_chunk_line (bytes of one size line, default 4096),
--       max_trailers (bytes of the trailer section, default 8192),
--       max_trailer_fields (default 32).
--   A reader is callable: reader() returns the next piece of the body (a
--   non-empty string), nil at the end, or nil, msg, code on error, where
--   code is "EPROTO" (malformed framing), "EMSGSIZE" (a limit passed),
--   "closed" (the peer closed before the end), "ETIMEDOUT", or a socket
--   error name. After the end or an error it keeps returning the same.
--   reader.done is true once the end was reached; reader.error holds the
--   code after a failure.
--   body.readall(reader[, max]) -> the whole body as a string, or nil, msg,
--       code ("EMSGSIZE" when it is longer than max bytes).
--   body.chunked_writer(stream) -> w, with w:write(piece) -> true or nil,
--       msg, code (an empty piece writes nothing) and w:finish([trailers])
--       -> true or nil, msg, code, which writes the last chunk and the
--       trailer fields (a table name -> value). w.write and w.finish may
--       also be called as plain functions: write(piece), finish(trailers).
--
-- Pieces are read at most PIECE bytes at a time, so a large body never
-- sits whole in memory unless readall is asked for it.
local find, match, lower, byte = string.find, string.match,
                                string.lower, string.byte
local concat, tointeger, tonumber = table.concat, math.tointeger, tonumber
local setmetatable, type, error, pairs = setmetatable, type, error, pairs
local format = string.format

local M = {}

M.PIECE = 65536
M.MAX_CHUNK_LINE = 4096
M.MAX_TRAILERS = 8192
M.MAX_TRAILER_FIELDS = 32

-- what a failed stream read means for a body
local function read_error(self, msg, code)
  if code == "EOF" or msg == "closed" then
    msg, code = "connection closed before the end of the body", "closed"
  end
  self.error, self.msg = code, msg
  return nil, msg, code
end

local function fail(self, msg, code)
  self.error, self.msg = code, msg
  return nil, msg, code
end

---------------------------------------------------------------- fixed

local Fixed = {__name = "lunasock.http.body.fixed"}
Fixed.__index = Fixed

function Fixed.__call(self)
  if self.error then return nil, self.msg, self.error end
  local left = self.left
  if left == 0 then
    self.done = true
    return nil
  end
  local n = left < M.PIECE and left or M.PIECE
  local piece, msg, code = self.stream:read(n)
  if not piece then return read_error(self, msg, code) end
  self.left = left - n
  return piece
end

function M.fixed(stream, n)
  if tointeger(n) == nil or n < 0 then
    error("bad argument #2 to 'fixed' (non-negative integer expected)", 2)
  end
  return setmetatable({stream = stream, left = tointeger(n), done = false,
                       error = false, msg = false}, Fixed)
end

---------------------------------------------------------------- chunked

local Chunked = {__name = "lunasock.http.body.chunked"}
Chunked.__index = Chunked

local TCHAR = "[!#$%%&'*+%-.^_`|~%w]"

-- Checks the chunk extensions after the size: *( BWS ";" BWS name
-- [ BWS "=" BWS ( token / quoted-string ) ] ). True when well formed.
local function valid_ext(s)
  local pos, len = 1, #s
  while pos <= len do
    local e = match(s, "^[ \t]*;[ \t]*" .. TCHAR .. "+()", pos)
    if not e then return false end
    pos = e
    local eq = match(s, "^[ \t]*=[ \t]*()", pos)
    if eq then
      pos = eq
      e = match(s, "^" .. TCHAR .. "+()", pos)
      if e then
        pos = e
      elseif byte(s, pos) == 34 then  -- quoted-string
        pos = pos + 1
        while true do
          local c = byte(s, pos)
          if c == nil then return false end
          if c == 34 then pos = pos + 1 break end
          if c == 92 then
            c = byte(s, pos + 1)
            if c == nil or (c < 32 and c ~= 9) or c == 127 then return false end
            pos = pos + 2
          elseif (c < 32 and c ~= 9) or c == 127 then
            return false
          else
            pos = pos + 1
          end
        end
      else
        return false
      end
    end
  end
  return true
end
M.valid_ext = valid_ext

-- field-name ":" OWS field-value OWS, with a value of visible characters,
-- spaces, tabs and obs-text
local FIELD = "^(" .. TCHAR .. "+):[ \t]*([\t -~\128-\255]-)[ \t]*$"

local function read_trailers(self)
  local st, trailers, size, count = self.stream, {}, 0, 0
  local max_size = self.max_trailers
  while true do
    local line, msg, code = st:readuntil("\r\n")
    if not line then
      if code == "EMSGSIZE" then return fail(self, "trailer section too large", "EMSGSIZE") end
      return read_error(self, msg, code)
    end
    if line == "" then break end
    size = size + #line + 2
    count = count + 1
    if size > max_size or count > self.max_trailer_fields then
      return fail(self, "trailer section too large", "EMSGSIZE")
    end
    local name, value = match(line, FIELD)
    if not name then return fail(self, "malformed trailer field", "EPROTO") end
    name = lower(name)
    local old = trailers[name]
    trailers[name] = old and (old .. ", " .. value) or value
  end
  self.trailers = trailers
  self.done = true
  return nil
end

function Chunked.__call(self)
  if self.error then return nil, self.msg, self.error end
  if self.done then return nil end
  local st = self.stream
  local left = self.left
  if left == 0 then
    -- a size line
    local line, msg, code = st:readuntil("\r\n")
    if not line then
      if code == "EMSGSIZE" then return fail(self, "chunk size line too long", "EPROTO") end
      return read_error(self, msg, code)
    end
    if #line > self.max_chunk_line then
      return fail(self, "chunk size line too long", "EPROTO")
    end
    local hex, ext = match(line, "^(%x+)(.*)$")
    if not hex then return fail(self, "bad chunk size", "EPROTO") end
    if ext ~= "" and not valid_ext(ext) then
      return fail(self, "bad chunk extension", "EPROTO")
    end
    local digits = match(hex, "^0*(.*)$")
    if #digits > 15 then return fail(self, "chunk size overflows", "EPROTO") end
    local size = digits == "" and 0 or tonumber(digits, 16)
    if size == 0 then return read_trailers(self) end
    local total = self.total + size
    if self.max_body and total > self.max_body then
      return fail(self, "body larger than " .. self.max_body .. " bytes", "EMSGSIZE")
    end
    self.total = total
    left = size
  end
  local n = left < M.PIECE and left or M.PIECE
  local piece, msg, code = st:read(n)
  if not piece then return read_error(self, msg, code) end
  left = left - n
  if left == 0 then
    local crlf
    crlf, msg, code = st:read(2)
    if not crlf then return read_error(self, msg, code) end
    if crlf ~= "\r\n" then return fail(self, "chunk data not followed by CRLF", "EPROTO") end
  end
  self.left = left
  return piece
end

function M.chunked(stream, limits)
  limits = limits or {}
  local max_body = limits.max_body
  if max_body == nil then max_body = false end
  return setmetatable({
    stream = stream, left = 0, total = 0, done = false, error = false,
    msg = false, trailers = false, max_body = max_body,
    max_chunk_line = limits.max_chunk_line or M.MAX_CHUNK_LINE,
    max_trailers = limits.max_trailers or M.MAX_TRAILERS,
    max_trailer_fields = limits.max_trailer_fields or M.MAX_TRAILER_FIELDS,
  }, Chunked)
end

---------------------------------------------------------------- readall

function M.readall(reader, max)
  local parts, n, size = {}, 0, 0
  while true do
    local piece, msg, code = reader()
    if not piece then
      if msg then return nil, msg, code end
      break
    end
    size = size + #piece
    if max and size > max then return nil, "body larger than " .. max .. " bytes", "EMSGSIZE" end
    n = n + 1
    parts[n] = piece
  end
  if n == 1 then return parts[1] end
  return concat(parts, "", 1, n)
end

---------------------------------------------------------------- writer

-- Checks a trailer or header field for what may go on the wire: a token
-- name and a value without CR, LF or NUL.
local function check_field(name, value)
  if type(name) ~= "string" or not find(name, "^" .. TCHAR .. "+$") then
    error("invalid field name " .. format("%q", tostring(name)), 3)
  end
  value = tostring(value)
  if find(value, "[%z\r\n]") then
    error("invalid value for field " .. name .. " (CR, LF or NUL)", 3)
  end
  return value
end
M.check_field = check_field

function M.chunked_writer(stream)
  local w = {finished = false}
  local function write(a, b)
    local piece
    if a == w then piece = b else piece = a end
    if w.finished then error("chunked writer: write after finish", 2) end
    if piece == nil or piece == "" then return true end
    if type(piece) ~= "string" then piece = tostring(piece) end
    return stream:write(format("%x\r\n", #piece) .. piece .. "\r\n")
  end
  local function finish(a, b)
    local trailers
    if a == w then trailers = b else trailers = a end
    if w.finished then return true end
    w.finished = true
    if trailers and next(trailers) then
      local out = {"0\r\n"}
      for name, value in pairs(trailers) do
        value = check_field(name, value)
        out[#out + 1] = name .. ": " .. value .. "\r\n"
      end
      out[#out + 1] = "\r\n"
      return stream:write(concat(out))
    end
    return stream:write("0\r\n\r\n")
  end
  w.write, w.finish = write, finish
  return w
end

return M
