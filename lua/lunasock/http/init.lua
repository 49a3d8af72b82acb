-- lunasock.http: the HTTP front. The server (lunasock.http.server), its
-- router and static files, and the client's request/get (from
-- lunasock.http.client, loaded on first use so that the server works on
-- its own).
local server = require "lunasock.http.server"
local router = require "lunasock.http.router"

local M = {}

M.server_module = server
M.router = router.new            -- http.router() -> a new router
M.router_module = router
M.parse = require "lunasock.http.parse"
M.body = require "lunasock.http.body"
M.DEFAULTS = server.DEFAULTS

-- http.server{host, port, handler, ...} -> server, or nil, msg, code
-- (see lunasock.http.server)
function M.server(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'server' (table expected)", 2) end
  return server.new(opts)
end

-- http.static(dir[, opts]) -> a handler serving the files under dir
function M.static(dir, opts)
  return require("lunasock.http.static").handler(dir, opts)
end

local client, client_err
local function get_client()
  if client == nil and client_err == nil then
    local ok, mod = pcall(require, "lunasock.http.client")
    if ok then client = mod else client_err = tostring(mod):match("^[^\n]*") end
  end
  return client
end

-- http.request{method, url, headers, body, timeout} and http.get(url):
-- the client's, or nil, msg, "ENOSYS" when lunasock.http.client is missing.
function M.request(...)
  local c = get_client()
  if not c then
    return nil, "lunasock.http.client not available: " .. tostring(client_err), "ENOSYS"
  end
  return c.request(...)
end

function M.get(...)
  local c = get_client()
  if not c then
    return nil, "lunasock.http.client not available: " .. tostring(client_err), "ENOSYS"
  end
  return c.get(...)
end

return M
