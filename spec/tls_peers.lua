-- Real peers for the specs: nginx (with ssl or without) and small Python
-- servers, each started as a child on 127.0.0.1 and stopped by its PID;
-- plus runs of curl, openssl and python3 clients with their output. Not
-- a spec itself (no _spec suffix): required by the TLS front specs and
-- the HTTP client's interop spec.
--
--   local peers = require "tls_peers"
--   local ng = peers.nginx(dir, function(port) return "server {...}" end)
--   ...; ng:stop()
--
-- Outside tools run without the sanitizer preload (helper.TOOL).
local helper = require "helper"
local core = require "lunasock.core"
local loop = require "lunasock.loop"

local M = {}

M.NGINX = "/usr/sbin/nginx"

function M.have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

M.write_file = helper.write_file

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("a")
  f:close()
  return data
end

-- A port nobody listens on now (bound to port 0, then closed).
function M.free_port()
  local s = assert(core.socket("inet", "stream"))
  assert(s:bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

-- n distinct ports nobody listens on now: all are held bound until all
-- are chosen (ports freed one at a time could come back twice, and
-- nginx would then serve two server blocks on one port, the first of
-- them for both).
function M.free_ports(n)
  local socks, ports = {}, {}
  for i = 1, n do
    socks[i] = assert(core.socket("inet", "stream"))
    assert(socks[i]:bind("127.0.0.1", 0))
    ports[i] = select(2, socks[i]:getsockname())
  end
  for _, s in ipairs(socks) do s:close() end
  return ports
end

-- Starts cmd (a shell command line) as a child whose PID we learn: the
-- shell prints its PID and execs cmd. Returns pid and the popen handle
-- (reading the child's stdout).
function M.spawn(cmd)
  local proc = assert(io.popen("exec sh -c 'echo $$; exec " .. cmd .. "'"))
  local pid = assert(tonumber(proc:read("l")))
  return pid, proc
end

function M.stop(pid, proc)
  if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
  if proc then proc:close() end
end

function M.alive(pid)
  return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true
end

-- Waits until something accepts on 127.0.0.1:port: connects, retrying
-- only on ECONNREFUSED, for at most helper.TIMEOUT seconds, while pid
-- lives.
function M.wait_listening(port, pid)
  local deadline = core.monotime() + helper.TIMEOUT
  while core.monotime() < deadline do
    local s = assert(core.socket("inet", "stream"))
    s:settimeout(helper.TIMEOUT)
    local ok, err, code = s:connect("127.0.0.1", port)
    s:close()
    if ok then return true end
    if code ~= "ECONNREFUSED" then return nil, err end
    if not M.alive(pid) then return nil, "the server exited" end
    loop.sleep(0.02)
  end
  return nil, "timed out"
end

---------------------------------------------------------------- nginx

-- nginx.conf for dir with the server blocks servers(ports...) returns,
-- after the main-context lines main (load_module ...).
local function nginx_conf(dir, servers, main)
  return ([[
%s
master_process off;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  default_type application/octet-stream;
  types { text/plain txt; text/html html; }
%s
}
]]):format(main or "", dir, dir, dir, dir, dir, dir, dir, servers)
end

local Nginx = {}
Nginx.__index = Nginx

function Nginx:stop()
  M.stop(self.pid, self.proc)
  self.pid, self.proc = nil, nil
end

-- peers.nginx(dir, servers[, nports[, main]]) -> an nginx serving from
-- dir, with ports (nports free ports it listens on, default 1); or nil,
-- why. servers(ports) returns the server blocks; main is put in the main
-- context (load_module lines). Retries with other ports when one was
-- taken meanwhile.
function M.nginx(dir, servers, nports, main)
  if not io.open(M.NGINX) then return nil, "nginx is not installed" end
  for _ = 1, 5 do
    local ports = M.free_ports(nports or 1)
    M.write_file(dir .. "/nginx.conf", nginx_conf(dir, servers(ports), main))
    os.remove(dir .. "/error.log")
    local pid, proc = M.spawn(helper.TOOL .. M.NGINX .. " -c " .. dir .. "/nginx.conf -p "
                              .. dir .. " -e " .. dir .. "/error.log -g \"daemon off;\" 2>&1")
    local ok, err = true, nil
    for _, port in ipairs(ports) do
      ok, err = M.wait_listening(port, pid)
      if not ok then break end
    end
    if ok then return setmetatable({pid = pid, proc = proc, ports = ports}, Nginx) end
    M.stop(pid, proc)
    local log = M.read_file(dir .. "/error.log") or ""
    if not log:find("Address already in use", 1, true) then
      return nil, "nginx did not start: " .. tostring(err) .. "\n" .. log
    end
  end
  return nil, "no free port for nginx"
end

---------------------------------------------------------------- python

-- peers.python(dir, name, source, args) -> pid, proc, port: runs the
-- Python program source (saved as dir/name) that prints its port on its
-- first line; or nil, why.
function M.python(dir, name, source, args)
  if not M.have("python3") then return nil, "python3 is not installed" end
  M.write_file(dir .. "/" .. name, source)
  local pid, proc = M.spawn(helper.TOOL .. "python3 " .. dir .. "/" .. name .. " "
                            .. (args or ""))
  local port = tonumber(proc:read("l"))
  if not port then
    M.stop(pid, proc)
    return nil, "the Python server " .. name .. " did not start"
  end
  return pid, proc, port
end

---------------------------------------------------------------- clients

-- peers.run(cmd[, input]) -> ok, output: runs a shell command line (an
-- outside tool, without the sanitizer preload) with stderr joined to
-- stdout and stdin from the string input (default: empty). Inside a loop
-- task it runs in the background while the task polls for its end, so
-- the loop (serving the peer the tool talks to) keeps going; it is
-- killed by its PID after 2 * helper.TIMEOUT. ours: cmd is lunasock's
-- own (it keeps the sanitizer preload).
function M.run(cmd, input, ours)
  local base = os.tmpname()
  M.write_file(base .. ".in", input or "")
  local full = (ours and "" or helper.TOOL) .. cmd .. " <" .. base .. ".in >" .. base .. ".out 2>&1"
  local ok
  if loop.current() then
    M.write_file(base .. ".sh", full .. "\necho $? >" .. base .. ".rc\n")
    local p = assert(io.popen("sh " .. base .. ".sh >/dev/null 2>&1 & echo $!"))
    local pid = tonumber(p:read("l"))
    p:close()
    local deadline = core.monotime() + helper.TIMEOUT * 2
    local rc
    repeat
      rc = M.read_file(base .. ".rc")
      if not (rc and rc:find("\n")) then
        rc = nil
        loop.sleep(0.01)
      end
    until rc or core.monotime() > deadline
    if not rc then
      os.execute("pkill -P " .. pid .. " 2>/dev/null; kill " .. pid .. " 2>/dev/null")
    end
    ok = tonumber(rc) == 0
  else
    ok = os.execute(full) == true
  end
  local text = M.read_file(base .. ".out") or ""
  for _, ext in ipairs{"", ".in", ".out", ".sh", ".rc"} do os.remove(base .. ext) end
  return ok, text
end

-- peers.cli(args[, input]) -> ok, stdout, stderr: runs bin/lunasock
-- with the words in args (quoted here) under timeout(1), as a user would.
-- Inside a loop task it runs in the background, as peers.run does.
local quote = helper.quote
M.quote = quote

function M.cli(args, input)
  local words = {}
  for i, a in ipairs(args) do words[i] = quote(a) end
  local errf = os.tmpname()
  local cmd = ("(timeout --foreground %d %s bin/lunasock %s 2>%s)"):format(
    math.floor(helper.TIMEOUT * 2), helper.LUA, table.concat(words, " "), errf)
  local ok, out = M.run(cmd, input, true)
  local err = M.read_file(errf) or ""
  os.remove(errf)
  return ok, out, err
end

return M
