-- lunasock.http.body: HTTP/1.1 message bodies over a lunasock.stream,
-- shared by the server and the client.
--
-- API
--
--   body.fixed(stream, n) -> reader
--       A Content-Length body of n bytes (an integer >= 0).
--   body.chunked(stream[, limits]) -> reader
--       A chunked body (RFC 9112 section 7.1), decoded by core.http_chunked
--       (the one grammar, csrc/http_parse.c). The chunk size is hex digits
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
-- sits whole in memory unless readall is asked for it; readall holds the
-- bytes, not a slot per piece.
local core = require "lunasock.core"
local h1 = require "lunasock.http.h1"

local concat, tointeger = table.concat, math.tointeger
local setmetatable, type, error, pairs, next, tostring =
  setmetatable, type, error, pairs, next, tostring
local format = string.format
local http_chunked, http_trailers = core.http_chunked, core.http_trailers
local check_field = h1.check_field

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
  -- what has come, up to a piece: a slow body still arrives as it comes
  -- (a sink sees progress), a fast one in pieces of up to M.PIECE
  local st = self.stream
  local n = left < M.PIECE and left or M.PIECE
  local have = st:buffered()
  if have == 0 then
    local ok, msg, code = st:fill()
    if not ok then return read_error(self, msg, code) end
    have = st:buffered()
  end
  if have < n then n = have end
  local piece, msg, code = st:read(n)
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

-- core.http_chunked's state after the last chunk: trailers come next
local AT_TRAILERS = -2

local CHUNK_ERROR = {
  INVALID_CHUNK_SIZE = "bad chunk size", BARE_LF = "bad chunk size",
  CHUNK_SIZE_OVERFLOW = "chunk size overflows",
  INVALID_CHUNK_EXT = "bad chunk extension",
  LINE_TOO_LONG = "chunk size line too long",
  INVALID_CHUNK_END = "chunk data not followed by CRLF",
}

-- The trailer section, parsed by the same C grammar as a head.
local function read_trailers(self, st)
  local state = 0
  while true do
    local buf, pos = st:buffer()
    local stop, fields = http_trailers(buf, pos, state, self.max_trailers,
                                       self.max_trailer_fields)
    if stop then
      st:skip(stop - pos)
      self.trailers = h1.headers(fields)
      self.done = true
      return nil
    elseif stop == false then
      state = fields
    elseif fields == "HEAD_TOO_LARGE" or fields == "TOO_MANY_FIELDS"
           or fields == "LINE_TOO_LONG" then
      return fail(self, "trailer section too large", "EMSGSIZE")
    else
      return fail(self, "malformed trailer field", "EPROTO")
    end
    local ok, msg, code = st:fill()
    if not ok then return read_error(self, msg, code) end
  end
end

-- Decodes what the stream has buffered (at most PIECE bytes a call, in C,
-- however small the chunks: what is held is the data, not a table slot
-- per chunk), reading more only when nothing could be decoded.
function Chunked.__call(self)
  if self.error then return nil, self.msg, self.error end
  if self.done then return nil end
  local st = self.stream
  while self.left ~= AT_TRAILERS do
    local buf, pos = st:buffer()
    local data, stop, left = http_chunked(buf, pos, self.left, self.max_chunk_line, M.PIECE)
    if not data then return fail(self, CHUNK_ERROR[stop] or "bad chunk", "EPROTO") end
    st:skip(stop - pos)
    self.left = left
    if data ~= "" then
      local total = self.total + #data
      if self.max_body and total > self.max_body then
        return fail(self, "body larger than " .. self.max_body .. " bytes", "EMSGSIZE")
      end
      self.total = total
      return data
    end
    if left ~= AT_TRAILERS then
      local ok, msg, code = st:fill()
      if not ok then return read_error(self, msg, code) end
    end
  end
  return read_trailers(self, st)
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

-- Pieces are joined 64 at a time, so that however small they come (a
-- reader of 1-byte pieces) what is held is the bytes, not a table slot
-- and a string header per piece.
function M.readall(reader, max)
  local parts, n, small, k, size = {}, 0, {}, 0, 0
  while true do
    local piece, msg, code = reader()
    if not piece then
      if msg then return nil, msg, code end
      break
    end
    size = size + #piece
    if max and size > max then return nil, "body larger than " .. max .. " bytes", "EMSGSIZE" end
    k = k + 1
    small[k] = piece
    if k == 64 then
      n = n + 1
      parts[n] = concat(small, "", 1, k)
      k = 0
    end
  end
  if k > 0 then
    n = n + 1
    parts[n] = k == 1 and small[1] or concat(small, "", 1, k)
  end
  if n == 1 then return parts[1] end
  return concat(parts, "", 1, n)
end

---------------------------------------------------------------- writer

M.check_field = check_field

function M.chunked_writer(stream)
  local w = {finished = false}
  local function write(a, b)
    local piece
    if a == w then piece = b else piece = a end
    if w.finished then error("chunked writer: write after finish", 2) end
    if piece == nil or piece == "" then return true end
    if type(piece) ~= "string" then
      if type(piece) ~= "number" then
        error("bad argument #1 to 'write' (string expected, got " .. type(piece) .. ")", 2)
      end
      piece = tostring(piece)
    end
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
