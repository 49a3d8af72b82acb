-- lunasock.http.router: method + path routing for lunasock.http.server.
--
--   local r = router.new()
--   r:get("/", function(req) return 200, nil, "hello world\n" end)
--   r:get("/hello/:name", function(req) return 200, nil, "hello " .. req.params.name end)
--   http.server{port = 8080, handler = r}
--
-- Patterns: literal segments, ":name" (one non-empty segment) and, as the
-- last segment, "*name" or "*" (the rest of the path, possibly empty).
-- Literal paths are found with one table lookup; patterns are tried in
-- the order they were added, one string.match each. Matching and
-- capturing are both on the path as url.decode_path leaves it (%XX
-- decoded, but %2F and %25 kept so that an encoded "/" cannot split a
-- segment); each parameter is then decoded the rest of the way. Patterns
-- are written decoded ("/a b", "/100%"). A path that matches no route gets 404; a path that
-- matches with no handler for the method gets 405 with Allow. HEAD falls
-- back to GET; OPTIONS (and OPTIONS *) is answered with Allow.
local url = require "lunasock.http.url"
local check = require "lunasock.check"

local find, gsub, match, sub, concat, sort = string.find, string.gsub, string.match,
                                             string.sub, table.concat, table.sort
local setmetatable, error, type, pairs, select, ipairs, getmetatable =
  setmetatable, error, type, pairs, select, ipairs, getmetatable
local decode_path, decode_segment = url.decode_path, url.decode_segment

local M = {}

local Router = {__name = "lunasock.http.router"}
Router.__index = Router

-- router.new([opts]) -> router. opts.not_found(req): the 404 handler.
function M.new(opts)
  opts = check.known(check.opts(opts, "http.router"), "http.router", {not_found = true})

  return setmetatable({exact = {}, plain = {}, patterns = {}, methods = {},
                       not_found = opts.not_found}, Router)
end

local function allow_of(handlers)
  local list = {}
  for m in pairs(handlers) do
    if m ~= "ANY" then list[#list + 1] = m end
  end
  if handlers.GET and not handlers.HEAD then list[#list + 1] = "HEAD" end
  if not handlers.OPTIONS then list[#list + 1] = "OPTIONS" end
  sort(list)
  return concat(list, ", ")
end

-- Compiles "/a/:x/*rest" to a Lua pattern and the parameter names.
local function compile(pattern)
  local names, parts = {}, {}
  local segs = {}
  for seg in (pattern .. "/"):gmatch("([^/]*)/") do segs[#segs + 1] = seg end
  -- segs[1] is "" (the leading slash)
  for i = 2, #segs do
    local seg = segs[i]
    local c = sub(seg, 1, 1)
    if c == ":" and #seg > 1 then
      names[#names + 1] = sub(seg, 2)
      parts[#parts + 1] = "/([^/]+)"
    elseif c == "*" then
      if i ~= #segs then error("router: '*' must be the last segment of " .. pattern, 3) end
      names[#names + 1] = #seg > 1 and sub(seg, 2) or "*"
      parts[#parts + 1] = "/?(.*)"
    else
      seg = gsub(seg, "%%", "%%25")   -- as decode_path leaves a "%"
      parts[#parts + 1] = "/" .. gsub(seg, "[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
    end
  end
  return "^" .. concat(parts) .. "$", names
end

-- router:add(method, pattern, fn) -> router. method is a name ("GET"), a
-- list of names, or "*" / "ANY" for every method. fn(req, params).
function Router:add(method, pattern, fn)
  if type(pattern) ~= "string" or sub(pattern, 1, 1) ~= "/" then
    error("bad argument #2 to 'add' (path pattern starting with '/' expected)", 2)
  end
  if type(fn) ~= "function" and not (type(fn) == "table" and getmetatable(fn)
                                      and getmetatable(fn).__call) then
    error("bad argument #3 to 'add' (function expected)", 2)
  end
  local list = type(method) == "table" and method or {method}
  local handlers
  if not find(pattern, "/[:*]") then
    -- as decode_path leaves the path a request must have
    local key = gsub(pattern, "%%", "%%25")
    handlers = self.exact[key]
    if not handlers then
      handlers = {}
      self.exact[key] = handlers
      -- without a "%" the path a request must have is the pattern itself
      if not find(pattern, "%", 1, true) then self.plain[pattern] = handlers end
    end
  else
    for _, p in ipairs(self.patterns) do
      if p.source == pattern then handlers = p.handlers break end
    end
    if not handlers then
      local lpat, names = compile(pattern)
      handlers = {}
      self.patterns[#self.patterns + 1] = {source = pattern, lpat = lpat, names = names,
                                           handlers = handlers}
    end
  end
  for _, m in ipairs(list) do
    if type(m) ~= "string" then error("bad argument #1 to 'add' (method name expected)", 2) end
    if m == "*" then m = "ANY" end
    handlers[m] = fn
    self.methods[m] = true
  end
  self.allow_cache = nil
  return self
end

for _, m in ipairs{"get", "post", "put", "delete", "patch", "head", "options"} do
  local name = m:upper()
  Router[m] = function(self, pattern, fn) return self:add(name, pattern, fn) end
end
function Router:any(pattern, fn) return self:add("ANY", pattern, fn) end

local function params_of(p, ...)
  local params, names = {}, p.names
  for i = 1, select("#", ...) do params[names[i]] = decode_segment((select(i, ...))) end
  return params
end

local NOT_FOUND = "Not Found\n"

-- router(req) / router:dispatch(req) -> the handler's response
function Router:dispatch(req)
  local path, method = req.path, req.method
  -- a literal route without "%" matches only a path without "%", which
  -- decoding leaves as it is: one lookup before anything else
  local handlers = self.plain[path]
  if not handlers then
    if find(path, "%", 1, true) then path = decode_path(path) end
    handlers = self.exact[path]
  end
  if handlers then
    local fn = handlers[method] or (method == "HEAD" and handlers.GET) or handlers.ANY
    if fn then return fn(req) end   -- a literal path has no params
  end
  -- patterns: the first with a handler for the method wins; the others
  -- contribute to Allow
  local allowed = handlers and {handlers} or nil
  local patterns = self.patterns
  for i = 1, #patterns do
    local p = patterns[i]
    if match(path, p.lpat) then
      local h = p.handlers
      local fn = h[method] or (method == "HEAD" and h.GET) or h.ANY
      if fn then
        req.params = params_of(p, match(path, p.lpat))
        return fn(req, req.params)
      end
      allowed = allowed or {}
      allowed[#allowed + 1] = h
    end
  end
  if path == "*" and method == "OPTIONS" then
    return 204, {Allow = allow_of(self.methods)}
  end
  if not allowed then
    if self.not_found then return self.not_found(req) end
    return 404, nil, NOT_FOUND
  end
  local merged = {}
  for _, h in ipairs(allowed) do
    for m in pairs(h) do merged[m] = true end
  end
  if merged.ANY then merged = {GET = true} end
  local allow = allow_of(merged)
  if method == "OPTIONS" then return 204, {Allow = allow} end
  return 405, {Allow = allow}, "Method Not Allowed\n"
end

Router.__call = Router.dispatch

return M
