-- lunasock.http.h1: what the HTTP/1.1 server and client share above the
-- wire grammar (which is C: core.http_request, core.http_response,
-- core.http_trailers, core.http_chunked). Field tables, tokens,
-- Content-Length, reason phrases, and the check of a field about to be
-- written.
--
--   h1.headers(fields) -> headers: a table of the lower-cased names in
--       fields ({name1, value1, ...}, as the C parsers return them) to
--       their values, repeated names joined with ", "; any spelling of a
--       name finds it (headers["Content-Type"]).
--   h1.field(fields, lname) -> the value of field lname (lower case) in
--       fields, repeated ones joined with ", "; nil when absent.
--   h1.is_token(s) -> true when s is a token (RFC 9110 5.6.2)
--   h1.has_token(list, tok) -> true when the comma-separated list has
--       the token tok (compared in lower case)
--   h1.content_length(value) -> n, or nil, why: digits only, or a list
--       of equal values ("5, 5", RFC 9110 8.6); why is "invalid",
--       "conflicting" or "too large" (over 15 digits)
--   h1.trim(s) -> s without the spaces and tabs around it (linear)
--   h1.items(list) -> the items of a comma-separated list, trimmed, and
--       their count
--   h1.check_field(name, value) -> value as a string; raises (level 3)
--       for a name that is not a token or a value with CR, LF or NUL
--   h1.REASON[status] -> the reason phrase
local find, match, gmatch, lower, sub = string.find, string.match,
                                        string.gmatch, string.lower, string.sub
local rawget, setmetatable, type, tostring, tointeger, tonumber, error =
  rawget, setmetatable, type, tostring, math.tointeger, tonumber, error
local format = string.format

local M = {}

local Headers = {__name = "lunasock.http.headers"}
function Headers.__index(t, k)
  if type(k) == "string" then return rawget(t, lower(k)) end
end
M.Headers = Headers

function M.headers(fields)
  local h = {}
  if fields then
    for i = 1, #fields, 2 do
      local name, value = fields[i], fields[i + 1]
      local old = h[name]
      h[name] = old and (old .. ", " .. value) or value
    end
  end
  return setmetatable(h, Headers)
end

function M.field(fields, lname)
  local v
  for i = 1, #fields, 2 do
    if fields[i] == lname then
      local value = fields[i + 1]
      v = v and (v .. ", " .. value) or value
    end
  end
  return v
end

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"
M.TOKEN = TOKEN

function M.is_token(s)
  return type(s) == "string" and find(s, TOKEN) ~= nil
end

-- Linear: each item is a run of bytes other than "," and white space.
function M.has_token(list, tok)
  if not list then return false end
  for t in gmatch(lower(list), "[^,%s]+") do
    if t == tok then return true end
  end
  return false
end

-- s without the spaces and tabs around it. Linear: find stops at the
-- first byte that is not blank, and the greedy ".*" backs up from the end
-- over the trailing blanks only (a lazy "(.-)[ \t]*$" would rescan the
-- blanks from every position: quadratic).
local function trim(s)
  local i = find(s, "[^ \t]")
  if not i then return "" end
  local j = match(s, "^.*[^ \t]()", i)
  return sub(s, i, j - 1)
end
M.trim = trim

-- The items of a comma-separated list, trimmed, empty ones included.
local function items(value)
  local list, n = {}, 0
  for item in gmatch(value .. ",", "([^,]*),") do
    n = n + 1
    list[n] = trim(item)
  end
  return list, n
end
M.items = items

function M.content_length(value)
  if not find(value, "^%d+$") then
    local list, n = items(value)
    local first = list[1]
    for i = 1, n do
      if not find(list[i], "^%d+$") then return nil, "invalid" end
      if list[i] ~= first then return nil, "conflicting" end
    end
    value = first
  end
  value = match(value, "^0*(%d*)$")
  if value == "" then return 0 end
  if #value > 15 then return nil, "too large" end
  return tointeger(tonumber(value))
end

function M.check_field(name, value)
  if type(name) ~= "string" or not find(name, TOKEN) then
    error("invalid field name " .. format("%q", tostring(name)), 3)
  end
  local vt = type(value)
  if vt ~= "string" and vt ~= "number" then   -- never "table: 0x..." on the wire
    error("invalid value for field " .. name .. " (string expected, got " .. vt .. ")", 3)
  end
  value = tostring(value)
  if find(value, "[%z\r\n]") then
    error("invalid value for field " .. name .. " (CR, LF or NUL)", 3)
  end
  return value
end

M.REASON = {
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

return M
