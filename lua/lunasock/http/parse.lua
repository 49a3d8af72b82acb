-- lunasock.http.parse: the request head (RFC 9112 sections 2-6, RFC 9110
-- for field syntax), parsed strictly: whatever could let two parsers
-- disagree about where a request ends is rejected with a status, never
-- guessed at. docs/http.md has the policy table.
--
-- parse.request(head[, opts]) -> request table, or nil, status, reason.
-- head is the text before the blank line that ends the head (without the
-- final CRLF CRLF). opts: max_request_line (414 past it), max_headers
-- (field count, 431 past it), max_body (413 for a larger Content-Length;
-- false for none), methods (a set of accepted method names; others get 501).
--
-- The request table: method, target (as sent), path (the target's path,
-- still percent-encoded), query_string (after "?", or nil), authority (for
-- an absolute-form target), version ("1.0" or "1.1"), headers (lower-case
-- names, case-insensitive lookup, repeated fields joined with ", "),
-- keep_alive, chunked (true for a chunked body), length (Content-Length,
-- 0 when there is no body), expect_continue.
--
-- The head is scanned with one match for the request line and one
-- anchored find per field, each starting where the last ended: the fields
-- must cover the head byte for byte, so any line the pattern does not
-- accept (obs-fold, space before the colon, a bare CR or LF, a control
-- character) is caught without a second pass. Everything decided after
-- that split is in parse.fields, which the server calls directly on the
-- split that core.http_head makes in C (the same strict grammar; a head
-- outside it comes back here, to parse.request, for its status).
local find, sub, match, gmatch, lower, byte, char = string.find, string.sub,
  string.match, string.gmatch, string.lower, string.byte, string.char
local tointeger, tonumber, rawget, type = math.tointeger, tonumber, rawget, type
local setmetatable = setmetatable

local M = {}

M.MAX_REQUEST_LINE = 8192
M.MAX_HEADERS = 100
M.MAX_BODY = 10 * 1024 * 1024

-- Methods a server accepts by default; any other token gets 501.
-- CONNECT is left out: this server is no proxy.
M.METHODS = {GET = true, HEAD = true, POST = true, PUT = true, DELETE = true,
             OPTIONS = true, PATCH = true, TRACE = true}

local TCHAR = "[!#$%%&'*+%-.^_`|~%w]"
local FIELD = "^\r\n(" .. TCHAR .. "+):[ \t]*([\t -~\128-\255]*)"

-- headers: stored under lower-case names; any other spelling is looked
-- up lower-cased
local Headers = {__name = "lunasock.http.headers"}
function Headers.__index(t, k)
  if type(k) == "string" then return rawget(t, lower(k)) end
end
M.Headers = Headers

function M.headers(t)
  return setmetatable(t or {}, Headers)
end

local STATUS_REASON  -- filled in below

-- Why a request line was refused: the status for it.
local function diagnose_line(line, max_line)
  if #line > max_line then return 414, "request line too long" end
  local method, target, version = match(line, "^([^ ]*) ([^ ]*) ([^ ]*)$")
  if not method then return 400, "malformed request line" end
  if not find(method, "^" .. TCHAR .. "+$") then return 400, "invalid method" end
  if target == "" or find(target, "[^!-~]") then return 400, "invalid request target" end
  local major, minor = match(version, "^HTTP/(%d)%.(%d)$")
  if not major then return 400, "invalid HTTP version" end
  if major ~= "1" then return 505, "HTTP version not supported" end
  return nil, minor  -- HTTP/1.x with x > 1: handled as 1.1
end

-- true when the comma-separated list value has token tok (lower case)
local function has_token(value, tok)
  for t in gmatch(lower(value), "[^,%s]+") do
    if t == tok then return true end
  end
  return false
end
M.has_token = has_token

local function content_length(value)
  if not find(value, "^%d+$") then
    -- "n, n" (a list of the same value) may be accepted, RFC 9110 8.6
    local first
    for item in gmatch(value .. ",", "[ \t]*([^,]-)[ \t]*,") do
      if not find(item, "^%d+$") then return nil, 400, "invalid Content-Length" end
      if first and item ~= first then return nil, 400, "conflicting Content-Length" end
      first = item
    end
    if not first then return nil, 400, "invalid Content-Length" end
    value = first
  end
  value = match(value, "^0*(.*)$")
  if value == "" then return 0 end
  if #value > 15 then return nil, 413, "Content-Length too large" end
  return tointeger(tonumber(value))
end

-- Transfer-Encoding: the final coding must be chunked (400 otherwise);
-- any other coding is one this server does not implement (501).
local function transfer_encoding(value)
  local n, last, codings = 0, nil, {}
  for coding in gmatch(lower(value) .. ",", "[ \t]*([^,]-)[ \t]*,") do
    if coding ~= "" then
      n = n + 1
      codings[n] = match(coding, "^([^;%s]*)")
      last = codings[n]
    end
  end
  if last ~= "chunked" then return 400, "Transfer-Encoding does not end in chunked" end
  if n > 1 then
    if codings[1] == "chunked" then return 400, "chunked applied twice" end
    return 501, "transfer coding not implemented: " .. codings[1]
  end
  return nil
end

-- A valid Host: memo of the values seen (most clients send one), so that
-- the character check runs once per distinct value.
local host_ok, nhost_ok = {}, 0
local function valid_host(host)
  local ok = host_ok[host]
  if ok == nil then
    ok = not find(host, "[^%w.:%-_~%%!$&'()*+,;=%[%]]")
    if nhost_ok >= 256 then host_ok, nhost_ok = {}, 0 end
    host_ok[host], nhost_ok = ok, nhost_ok + 1
  end
  return ok
end

-- Origin-form targets without "?" or "#" (the path is the target): memo
-- of the short ones seen, so that a repeated target costs one lookup.
local plain_target, nplain = {}, 0
local function remember_plain(target)
  if #target <= 64 then
    if nplain >= 256 then plain_target, nplain = {}, 0 end
    plain_target[target], nplain = true, nplain + 1
  end
end

local function check_method(method, opts)
  local methods = opts.methods or M.METHODS
  if methods[method] then return nil end
  if find(method, "^" .. TCHAR .. "+$") then return 501, "method not implemented" end
  return 400, "invalid method"
end

-- parse.fields(method, target, minor, fields, n[, opts]) -> request
-- table, or nil, status, reason: everything parse.request decides once
-- the head is split. The request line is already known to be well formed
-- (method a token, target %x21-7E, minor "0" or "1"); fields[1..2n] are
-- the field names, lower-cased, and their values, trimmed. The server
-- gets these from core.http_head; parse.request from its own split.
function M.fields(method, target, minor, fields, n, opts)
  opts = opts or M
  local status, why
  if not (opts.methods or M.METHODS)[method] then
    status, why = check_method(method, opts)
    return nil, status, why
  end
  if n > (opts.max_headers or M.MAX_HEADERS) then
    return nil, 431, "too many header fields"
  end
  -- a plain table until the end: the lookups below need no metamethod
  local headers = {}
  local hosts = 0
  for i = 1, 2 * n, 2 do
    local name, value = fields[i], fields[i + 1]
    local old = headers[name]
    if old then
      headers[name] = old .. ", " .. value
    else
      headers[name] = value
    end
    if name == "host" then hosts = hosts + 1 end
  end

  local version = minor == "0" and "1.0" or "1.1"
  local host = headers.host
  if version == "1.1" and hosts == 0 then return nil, 400, "missing Host" end
  if hosts > 1 then return nil, 400, "more than one Host" end
  if host and not (host_ok[host] or valid_host(host)) then
    return nil, 400, "invalid Host"
  end

  -- the target's form (RFC 9112 section 3.2)
  local path, query, authority
  local q, plain
  local seen = plain_target[target]      -- origin-form, no "?" or "#"
  if seen then
    path = target
  elseif byte(target, 1) == 47 then      -- "/": origin-form
    q = find(target, "?", 1, true)
    if q then
      path, query = sub(target, 1, q - 1), sub(target, q + 1)
    else
      path = target
      plain = true
    end
  elseif target == "*" then
    if method ~= "OPTIONS" then return nil, 400, "asterisk-form is for OPTIONS" end
    path = "*"
  else
    local scheme, auth, rest = match(target, "^(%a[%w+.%-]*)://([^/?]*)(.*)$")
    if not scheme then return nil, 400, "invalid request target" end
    scheme = lower(scheme)
    if scheme ~= "http" and scheme ~= "https" then return nil, 400, "unsupported scheme" end
    if auth == "" or find(auth, "@", 1, true) then return nil, 400, "invalid authority" end
    authority = auth
    if rest == "" then rest = "/" end
    if byte(rest, 1) == 63 then rest = "/" .. rest end
    q = find(rest, "?", 1, true)
    if q then
      path, query = sub(rest, 1, q - 1), sub(rest, q + 1)
    else
      path = rest
    end
  end
  if not seen then
    if find(target, "#", 1, true) then return nil, 400, "fragment in request target" end
    if plain then remember_plain(target) end
  end

  -- framing (RFC 9112 section 6)
  local chunked, length = false, 0
  local te, cl = headers["transfer-encoding"], headers["content-length"]
  if te then
    if cl then return nil, 400, "Transfer-Encoding with Content-Length" end
    if version == "1.0" then return nil, 400, "Transfer-Encoding in HTTP/1.0" end
    if te ~= "chunked" then
      status, why = transfer_encoding(te)
      if status then return nil, status, why end
    end
    chunked = true
  elseif cl then
    local len
    len, status, why = content_length(cl)
    if not len then return nil, status, why end
    local max_body = opts.max_body
    if max_body == nil then max_body = M.MAX_BODY end
    if max_body and len > max_body then return nil, 413, "body too large" end
    length = len
  end

  local keep
  local conn = headers.connection
  if version == "1.1" then
    keep = not (conn and (conn == "close" or has_token(conn, "close")))
  else
    keep = conn ~= nil and (conn == "keep-alive" or has_token(conn, "keep-alive"))
  end

  local expect_continue = false
  local ex = headers.expect
  if ex then
    if lower(ex) ~= "100-continue" then return nil, 417, "unsupported expectation" end
    expect_continue = version == "1.1"   -- ignored from 1.0 clients
  end

  return {
    method = method, target = target, path = path, query_string = query,
    authority = authority, version = version, headers = setmetatable(headers, Headers),
    keep_alive = keep, chunked = chunked, length = length,
    expect_continue = expect_continue,
  }
end
local request_from = M.fields

function M.request(head, opts)
  opts = opts or M
  local max_line = opts.max_request_line or M.MAX_REQUEST_LINE
  local le = find(head, "\r\n", 1, true)
  local line = le and sub(head, 1, le - 1) or head
  local method, target, minor = match(line, "^(%u+) ([!-~]+) HTTP/1%.([01])$")
  if not method or #line > max_line then
    local status, why = diagnose_line(line, max_line)
    if status then return nil, status, why end
    method, target = match(line, "^(%S+) (%S+)")
    minor = "1"
  end
  local status, why = check_method(method, opts)
  if status then return nil, status, why end

  -- fields: each find is anchored where the previous field ended, so
  -- the fields must cover the head byte for byte
  local fields, n, len = {}, 0, #head
  local pos = le or len + 1
  local max_fields = opts.max_headers or M.MAX_HEADERS
  while pos <= len do
    local _, e, name, value = find(head, FIELD, pos)
    if not e then
      if find(head, "^\r\n[ \t]", pos) then return nil, 400, "obsolete line folding" end
      return nil, 400, "malformed header field"
    end
    pos = e + 1
    n = n + 1
    if n > max_fields then return nil, 431, "too many header fields" end
    local b = byte(value, -1)
    if b == 32 or b == 9 then value = match(value, "^(.-)[ \t]*$") end
    fields[2 * n - 1], fields[2 * n] = lower(name), value
  end
  return request_from(method, target, minor, fields, n, opts)
end

---------------------------------------------------------------- URLs

local function hexchar(h)
  return char(tonumber(h, 16))
end

-- parse.unescape(s) -> s with %XX decoded (a malformed % is kept)
function M.unescape(s)
  if not find(s, "%", 1, true) then return s end
  return (s:gsub("%%(%x%x)", hexchar))
end

-- parse.query(s) -> table: "a=1&b=x+y&a=2" -> {a = {"1", "2"}, b = "x y"}.
-- "+" is a space and %XX is decoded, in names and values; a name without
-- "=" gets "". A name given twice gets a list of its values.
function M.query(s)
  local t = {}
  if not s or s == "" then return t end
  for pair in gmatch(s, "[^&;]+") do
    local k, v = match(pair, "^([^=]*)=(.*)$")
    if not k then k, v = pair, "" end
    k = M.unescape((k:gsub("+", " ")))
    v = M.unescape((v:gsub("+", " ")))
    local old = t[k]
    if old == nil then
      t[k] = v
    elseif type(old) == "table" then
      old[#old + 1] = v
    else
      t[k] = {old, v}
    end
  end
  return t
end

---------------------------------------------------------------- statuses

STATUS_REASON = {
  [100] = "Continue", [101] = "Switching Protocols",
  [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [206] = "Partial Content",
  [301] = "Moved Permanently", [302] = "Found", [303] = "See Other",
  [304] = "Not Modified", [307] = "Temporary Redirect", [308] = "Permanent Redirect",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [406] = "Not Acceptable",
  [408] = "Request Timeout", [409] = "Conflict", [410] = "Gone",
  [411] = "Length Required", [412] = "Precondition Failed",
  [413] = "Content Too Large", [414] = "URI Too Long",
  [415] = "Unsupported Media Type", [416] = "Range Not Satisfiable",
  [417] = "Expectation Failed", [422] = "Unprocessable Content",
  [429] = "Too Many Requests", [431] = "Request Header Fields Too Large",
  [500] = "Internal Server Error", [501] = "Not Implemented",
  [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout", [505] = "HTTP Version Not Supported",
}
M.REASON = STATUS_REASON

return M
