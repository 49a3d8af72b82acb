-- lunasock.stream: buffered reads and full (optionally buffered) writes
-- over a core socket, and the calls protocol parsers need.
--
-- Reads keep one buffer string and an offset into it (buf, pos), so
-- taking a line copies only the line. What arrives while a call waits
-- for more is kept as a list of pieces (pend) and joined once, when the
-- call has what it needs, so a frame costs O(its bytes) however they
-- arrive: one byte per segment is no worse than one segment. The pieces
-- are merged as they come in the way of a binary counter (a piece is
-- folded into the one below it while that one is not bigger), so there
-- are O(log n) of them and each byte is copied O(log n) times at most.
-- A delimiter search looks at each new piece once (with the few bytes
-- before it a delimiter could straddle), never at the whole buffer again.
-- Every public call returns with the pieces joined (pend empty).
--
-- A stream is one small table (eight fields: an idle connection's stream
-- costs 248 bytes): the pending pieces (rq) and the held writes (wq) are
-- tables of their own, made when first needed, and the options are the
-- table stream.options made, shared by every stream made with it.
--
-- Writes go straight out unless the stream was made with write_buffer:
-- then write appends, and the bytes go out on flush(), once write_buffer
-- bytes are held, before the stream waits for input (so a request/reply
-- exchange never deadlocks), and on close().
--
-- Inside a loop task every wait suspends only that task.
local find, sub, byte, concat, select, type = string.find, string.sub, string.byte,
                                              table.concat, select, type
local setmetatable, error, tostring, pcall = setmetatable, error, tostring, pcall
local math_type = math.type
local check = require "lunasock.check"

local M = {}

-- the tables stream.options made: new() keeps one as it is
local checked = setmetatable({}, {__mode = "k"})

M.DEFAULT_CHUNK = 16384         -- bytes asked of recv per read
M.DEFAULT_MAX_LINE = 65536      -- readline/readuntil limit, bytes
M.DEFAULT_WRITE_BUFFER = 65536  -- write_buffer = true: flush past this

local Stream = {}
Stream.__index = Stream
Stream.__name = "lunasock.stream"

local OPTIONS = {timeout = true, max_line = true, chunk = true, write_buffer = true}

-- stream.options(opts[, fname[, level]]) -> a copy of opts with every
-- default filled in; raises (naming fname, at the caller of the function
-- level frames up: 2, the default, is options' caller) for an unknown or
-- bad option. new() checks its options with it; a server checks them once.
function M.options(opts, fname, level)
  fname = fname or "new"
  level = (level or 2) + 1
  opts = check.opts(opts, fname, 2, level)
  check.known(opts, fname, OPTIONS, level, "stream option")
  local wb = opts.write_buffer
  if wb == true then
    wb = M.DEFAULT_WRITE_BUFFER
  elseif wb ~= nil and wb ~= false then
    wb = check.integer(wb, "write_buffer", fname, 1, math.maxinteger, level)
  end
  local o = {
    timeout = check.opt_seconds(opts, "timeout", fname, level),
    chunk = check.opt_integer(opts, "chunk", fname, 1, 0x7fffffff, level) or M.DEFAULT_CHUNK,
    max_line = check.opt_integer(opts, "max_line", fname, 0, math.maxinteger, level)
               or M.DEFAULT_MAX_LINE,
    write_buffer = wb or false,
  }
  checked[o] = true
  return o
end

local defaults   -- stream.options{}, made on the first new() without options

-- stream.new(sock[, opts]) -> stream. opts: timeout (seconds, nil for
-- none: sets the socket's), max_line (bytes a readline or readuntil may
-- buffer), chunk (bytes per recv), write_buffer (true, or a size in
-- bytes: writes are held and sent in batches; default false: unbuffered).
function M.new(sock, opts)
  local st = type(sock)
  if st ~= "userdata" and st ~= "table" then   -- a number was taken, to fail on first use
    error("bad argument #1 to 'new' (socket expected, got " .. st .. ")", 2)
  end
  if opts == nil then
    defaults = defaults or M.options({}, "stream.new")
    opts = defaults
  elseif not checked[opts] then
    opts = M.options(opts, "stream.new")
  end
  local self = setmetatable({
    sock = sock,
    buf = "", pos = 1,            -- unread bytes: sub(buf, pos), then the pieces
    pbytes = 0,                   -- bytes in the pending pieces
    rq = false,                   -- the pieces: false, or a table (see pieces)
    wq = false,                   -- held writes: false, or {n = count, bytes = sum, w1, w2, ...}
    eof = false,
    opts = opts,                  -- chunk, max_line, write_buffer (false: unbuffered)
  }, Stream)
  if opts.timeout ~= nil then sock:settimeout(opts.timeout) end
  return self
end

---------------------------------------------------------------- buffer

-- Small pieces (a peer sending a few bytes per segment) are first
-- gathered in a list and enter the pending pieces STAGE at a time, as
-- one string made by one table.concat.
local STAGE, SMALL = 64, 256

-- The pieces, while there are any: rq = {npend = n, nstage = m, stage =
-- {small pieces gathered}, the pending pieces at 1..n}. Made by the
-- first piece, dropped when they are joined: an idle stream holds none.
local function pieces(self)
  local r = self.rq
  if not r then
    r = {npend = 0, nstage = 0, stage = {}}
    self.rq = r
  end
  return r
end

-- Moves the gathered small pieces into the pending ones, merging.
local function unstage(r)
  local g, ng = r.stage, r.nstage
  if ng == 0 then return end
  local piece = ng == 1 and g[1] or concat(g, "", 1, ng)
  for i = 1, ng do g[i] = nil end
  r.nstage = 0
  local n = r.npend + 1
  r[n] = piece
  while n > 1 and #r[n - 1] <= #r[n] do
    r[n - 1] = r[n - 1] .. r[n]
    r[n] = nil
    n = n - 1
  end
  r.npend = n
end

-- Joins the pending pieces into buf (pos becomes 1).
local function join(self)
  if self.pbytes == 0 then return end
  local r = self.rq
  unstage(r)
  local n = r.npend
  local buf, pos = self.buf, self.pos
  local rest = n == 1 and r[1] or concat(r, "", 1, n)
  self.rq, self.pbytes = false, 0
  if pos <= #buf then rest = sub(buf, pos) .. rest end
  self.buf, self.pos = rest, 1
end

local function buffered(self)
  return #self.buf - self.pos + 1 + self.pbytes
end

-- Adds data after what is buffered. Nothing buffered: it becomes buf
-- (no copy). Otherwise a pending piece: gathered while small, merged
-- binary-counter style.
local function push(self, data)
  if self.pbytes == 0 and self.pos > #self.buf then
    self.buf, self.pos = data, 1
    return
  end
  local r = pieces(self)
  local ng = r.nstage + 1
  r.stage[ng], r.nstage = data, ng
  self.pbytes = self.pbytes + #data
  if ng >= STAGE or #data >= SMALL then unstage(r) end
end

local flush_out   -- below

-- One recv appended (held writes are sent first: the stream is about to
-- wait for the peer, which may be waiting for them). Returns the data, or
-- nil, msg, code ("closed", "EOF" at EOF).
local function recv_more(self)
  if self.eof then return nil, "closed", "EOF" end
  local q = self.wq
  if q and q.n > 0 then
    local ok, err, code = flush_out(self)
    if not ok then return nil, err, code end
  end
  local data, err, code = self.sock:recv(self.opts.chunk)
  if not data then return nil, err, code end
  if data == "" then
    self.eof = true
    return nil, "closed", "EOF"
  end
  push(self, data)
  return data
end

-- What is buffered and not yet read, taken out of the buffer.
local function take_rest(self)
  join(self)
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

-- The k bytes buffered before the last skip ones (fewer if fewer are),
-- found from the end of the pieces without joining them.
local function bytes_before(self, skip, k)
  local out, want = "", k
  local function take(piece)
    local n = #piece
    if skip >= n then skip = skip - n return false end
    local stop = n - skip
    skip = 0
    local from = stop - want + 1
    if from < 1 then from = 1 end
    out = sub(piece, from, stop) .. out
    want = want - (stop - from + 1)
    return want == 0
  end
  local r = self.rq
  if r then
    local g = r.stage
    for n = r.nstage, 1, -1 do if take(g[n]) then return out end end
    for n = r.npend, 1, -1 do if take(r[n]) then return out end end
  end
  local buf, pos = self.buf, self.pos   -- no copy of buf: indices
  local stop = #buf - skip
  if stop >= pos then
    local from = stop - want + 1
    if from < pos then from = pos end
    out = sub(buf, from, stop) .. out
  end
  return out
end

-- Where delim is first found among the buffered bytes, waiting for more
-- while it is not: i, j (positions in self.buf, joined) or nil, msg,
-- code. EMSGSIZE when more than max bytes would come before delim (the
-- buffer is kept). Each byte is searched once, whatever the recv sizes.
local function locate(self, delim, max)
  join(self)
  local d = #delim
  local last = sub(delim, -1)
  local buf, pos = self.buf, self.pos
  local i, j = find(buf, delim, pos, true)
  local have = #buf - pos + 1
  while not i do
    if have - (d - 1) > max then return nil, "line too long", "EMSGSIZE" end
    local data, err, code = recv_more(self)
    if not data then
      join(self)
      return nil, err, code
    end
    if have == 0 then                     -- data is the whole buffer
      buf, pos = self.buf, self.pos
      i, j = find(buf, delim, pos, true)
    elseif d == 1 or find(data, last, 1, true) then
      -- a delimiter can end only in data: search data and the d - 1
      -- bytes before it (a piece of one byte costs one find, no copy)
      local tail = d > 1 and bytes_before(self, #data, d - 1) or ""
      local k = find(tail .. data, delim, 1, true)
      if k then
        join(self)
        pos = self.pos
        -- logical offset have - #tail + k, 1-based from pos
        i = pos + have - #tail + k - 1
        j = i + d - 1
      end
    end
    have = have + #data
  end
  if i - pos > max then return nil, "line too long", "EMSGSIZE" end
  return i, j
end

---------------------------------------------------------------- reading

-- stream:read(n) -> exactly n bytes; nil, "closed", "EOF", partial at
-- EOF before n; nil, msg, code, partial on error or timeout. read() with
-- no count returns whatever is buffered, or one recv's worth.
function Stream:read(n)
  local buf, pos = self.buf, self.pos
  -- the usual case: n bytes are there, in buf
  if self.pbytes == 0 and math_type(n) == "integer" and n >= 0 and #buf - pos + 1 >= n then
    self.pos = pos + n
    return sub(buf, pos, pos + n - 1)
  end
  if n == nil then
    if buffered(self) == 0 then
      local ok, err, code = recv_more(self)
      if not ok then return nil, err, code end
    end
    return take_rest(self)
  end
  if math_type(n) ~= "integer" or n < 0 then
    error("bad argument #1 to 'read' (non-negative integer expected)", 2)
  end
  local need = n - buffered(self)
  while need > 0 do
    local data, err, code = recv_more(self)
    if not data then return failure(self, err, code) end
    need = need - #data
  end
  pos = self.pos
  if #self.buf - pos + 1 < n then
    join(self)
    pos = 1
  end
  self.pos = pos + n
  return sub(self.buf, pos, pos + n - 1)
end

local function check_delim(delim, max, fname)
  if type(delim) ~= "string" or delim == "" then
    error(("bad argument #1 to '%s' (non-empty string expected)"):format(fname), 3)
  end
  if max ~= nil and (math_type(max) ~= "integer" or max < 0) then
    error(("bad argument #2 to '%s' (non-negative integer expected)"):format(fname), 3)
  end
end

-- stream:readuntil(delim[, max]) -> the data before delim (delim
-- consumed). nil, "closed", "EOF", partial at EOF; nil, "line too long",
-- "EMSGSIZE" when more than max bytes (default: the stream's max_line)
-- come before delim (the buffer is kept: the caller may drop the
-- connection, skip or read on).
function Stream:readuntil(delim, max)
  -- the usual case: delim is in buf, within the limit
  if self.pbytes == 0 and type(delim) == "string" and delim ~= ""
     and (max == nil or (math_type(max) == "integer" and max >= 0)) then
    local buf, pos = self.buf, self.pos
    local i, j = find(buf, delim, pos, true)
    if i and i - pos <= (max or self.opts.max_line) then
      self.pos = j + 1
      return sub(buf, pos, i - 1)
    end
  end
  check_delim(delim, max, "readuntil")
  local i, j, code = locate(self, delim, max or self.opts.max_line)
  if not i then
    if code == "EMSGSIZE" then return nil, j, code end
    return failure(self, j, code)
  end
  local pos = self.pos
  self.pos = j + 1
  return sub(self.buf, pos, i - 1)
end

-- stream:readline([max]) -> the next line without its end (LF or CRLF).
-- At EOF a last line without an end is returned; after it, nil, "closed".
function Stream:readline(max)
  -- the usual case: a line is in buf, within the limit
  if self.pbytes == 0 and (max == nil or (math_type(max) == "integer" and max >= 0)) then
    local buf, pos = self.buf, self.pos
    local i = find(buf, "\n", pos, true)
    if i and i - pos <= (max or self.opts.max_line) then
      self.pos = i + 1
      if i > pos and byte(buf, i - 1) == 13 then return sub(buf, pos, i - 2) end
      return sub(buf, pos, i - 1)
    end
  end
  if max ~= nil and (math_type(max) ~= "integer" or max < 0) then
    error("bad argument #1 to 'readline' (non-negative integer expected)", 2)
  end
  local line, err, code, partial = self:readuntil("\n", max)
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
    local ok, err, code = recv_more(self)
    if not ok then
      if code == "EOF" then return take_rest(self) end
      return failure(self, err, code)
    end
  end
end

---------------------------------------------------------------- parsers

-- stream:find(delim[, max]) -> n: waits until delim is buffered and
-- returns how many buffered bytes come up to and including it, consuming
-- nothing; nil, msg, code as readuntil (nothing is taken out of the
-- buffer, at EOF neither). Each byte is searched once.
function Stream:find(delim, max)
  check_delim(delim, max, "find")
  local i, j, code = locate(self, delim, max or self.opts.max_line)
  if not i then return nil, j, code end
  return j - self.pos + 1
end

-- stream:fill() -> true, or nil, msg, code: one recv appended to the
-- buffer (buffer() then shows it). At EOF: nil, "closed", "EOF".
function Stream:fill()
  local ok, err, code = recv_more(self)
  join(self)
  if not ok then return nil, err, code end
  return true
end

-- stream:buffer() -> data, first: the unread bytes are sub(data, first),
-- handed over without a copy; valid until the next call on the stream.
function Stream:buffer()
  join(self)
  return self.buf, self.pos
end

-- stream:skip(n) -> true: drops n buffered bytes (n <= buffered()).
function Stream:skip(n)
  join(self)
  if math_type(n) ~= "integer" or n < 0 or n > #self.buf - self.pos + 1 then
    error("bad argument #1 to 'skip' (an integer from 0 to buffered() expected)", 2)
  end
  self.pos = self.pos + n
  return true
end

-- stream:unread(data) -> true: puts data back in front of what is
-- buffered; the next read starts with it.
function Stream:unread(data)
  if type(data) ~= "string" then
    error("bad argument #1 to 'unread' (string expected, got " .. type(data) .. ")", 2)
  end
  if data == "" then return true end
  join(self)
  local buf, pos = self.buf, self.pos
  if pos > #buf then
    self.buf = data
  elseif pos > #data and sub(buf, pos - #data, pos - 1) == data then
    self.pos = pos - #data   -- it is still there: no copy
    return true
  else
    self.buf = data .. sub(buf, pos)
  end
  self.pos = 1
  return true
end

-- stream:buffered() -> bytes read from the socket and not yet returned
function Stream:buffered()
  return buffered(self)
end

-- stream:ended() -> true once a recv has met the end of the peer's data:
-- no more input will come (what is buffered can still be read).
function Stream:ended()
  return self.eof
end

---------------------------------------------------------------- writing

-- Sends all of data; true, or nil, msg, code, sent.
local function send_all(sock, data)
  local sent, total = 0, #data
  while sent < total do
    local n, err, code = sock:send(sent == 0 and data or sub(data, sent + 1))
    if not n then return nil, err, code, sent end
    sent = sent + n
  end
  return true
end

-- Sends what is held.
flush_out = function(self)
  local q = self.wq
  local n = q.n
  local data = n == 1 and q[1] or concat(q, "", 1, n)
  for i = 1, n do q[i] = nil end
  q.n, q.bytes = 0, 0
  return send_all(self.sock, data)
end

-- A write argument that is not a string: a number as its text (as
-- io.write takes one); anything else raises at write's caller (a nil or
-- a table would go out as "nil" or "table: 0x...").
local function text_of(v, k)
  if math_type(v) then return tostring(v) end
  error(("bad argument #%d to 'write' (string expected, got %s)"):format(k, type(v)), 3)
end

-- The held writes' table, made by the first buffered write (kept).
local function write_queue(self)
  local q = {n = 0, bytes = 0}
  self.wq = q
  return q
end

-- stream:write(...) -> true once every byte went out (or, buffered, was
-- taken); nil, msg, code, sent on error or timeout (sent: bytes that went
-- out: of this call unbuffered, of the flush buffered). Numbers are
-- written as their text; any other argument that is not a string raises.
function Stream:write(...)
  local nargs = select("#", ...)
  local limit = self.opts.write_buffer
  if limit and nargs == 1 then   -- the usual buffered case
    local data = ...
    if type(data) ~= "string" then data = text_of(data, 1) end
    local q = self.wq or write_queue(self)
    local n, bytes = q.n + 1, q.bytes + #data
    q[n], q.n, q.bytes = data, n, bytes
    if bytes >= limit then return flush_out(self) end
    return true
  end
  if limit then
    local q = self.wq or write_queue(self)
    local n, bytes = q.n, q.bytes
    for k = 1, nargs do
      local data = select(k, ...)
      if type(data) ~= "string" then data = text_of(data, k) end
      if data ~= "" then
        n = n + 1
        q[n], bytes = data, bytes + #data
      end
    end
    q.n, q.bytes = n, bytes
    if bytes >= limit then return flush_out(self) end
    return true
  end
  local data
  if nargs == 1 then
    data = ...
    if type(data) ~= "string" then data = text_of(data, 1) end
  else
    local t = {...}
    for k = 1, nargs do
      if type(t[k]) ~= "string" then t[k] = text_of(t[k], k) end
    end
    data = concat(t)
  end
  return send_all(self.sock, data)
end

-- stream:flush() -> true once every held byte went out; nil, msg, code,
-- sent as write. Unbuffered streams hold nothing: true.
function Stream:flush()
  local q = self.wq
  if not q or q.n == 0 then return true end
  return flush_out(self)
end

-- stream:pending() -> bytes written and held (not yet sent)
function Stream:pending()
  local q = self.wq
  return q and q.bytes or 0
end

---------------------------------------------------------------- the rest

-- stream:settimeout(s): the socket's timeout (nil: none).
function Stream:settimeout(s)
  check.timeout(s, 1, "settimeout")   -- raised at the caller, not here
  self.sock:settimeout(s)
  return self
end

-- stream:socket() -> the socket the stream reads and writes (for its
-- options, addresses and descriptor).
function Stream:socket()
  return self.sock
end

-- stream:close() -> the socket's close: held writes are sent first
-- (bounded by the socket's timeout; a failure does not keep it open, and
-- is returned: nil, msg, code, sent).
function Stream:close()
  local q = self.wq
  local ok, err, code, sent = true, nil, nil, nil
  if q and q.n > 0 then
    local sock = self.sock
    if sock.fileno == nil or pcall(sock.fileno, sock) then ok, err, code, sent = flush_out(self) end
  end
  local cok, cerr, ccode = self.sock:close()
  -- held writes that did not all go out: said, as liolib's close reports
  -- the failure of its last flush (the socket is closed either way)
  if not ok then return nil, err, code, sent end
  return cok, cerr, ccode
end

Stream.__close = Stream.close

function Stream:__tostring()
  return "lunasock.stream (" .. tostring(self.sock) .. ")"
end

M.Stream = Stream
return M
