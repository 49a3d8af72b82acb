-- lunasock.http.server against real clients: curl and Python's
-- http.client, talking to examples/http_server.lua run as a child process
-- (the clients block, so the server cannot share this process's loop).
local helper = require "helper"

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

describe("lunasock.http.server interop", function()
  local pid, base, proc, dir

  setup(function()
    local line
    pid, proc, line = helper.example_start("http_server.lua", "--port 0", nil, 60)
    assert(line, "examples/http_server.lua did not start")
    local host, port = line:match("^listening on (.+):(%d+)$")
    assert(port, line)
    base = "http://" .. host .. ":" .. port
    dir = helper.tmpdir()
  end)

  teardown(function()
    if pid then helper.stop_child(pid, proc) end
    if dir then helper.rmdir(dir) end
  end)

  local CURL = helper.TOOL .. "curl -s -m " .. helper.TIMEOUT .. " "

  it("serves curl, reusing the connection for a second URL", function()
    if not have("curl") then pending("curl is not installed") return end
    local out = run(CURL .. "-v " .. base .. "/ " .. base .. "/hello/curl")
    assert.matches("hello world", out, 1, true)
    assert.matches("hello curl", out, 1, true)
    assert.is_truthy(out:find("Re-using", 1, true) or out:find("Reusing", 1, true), out)
  end)

  it("takes a chunked upload from curl", function()
    if not have("curl") then pending("curl is not installed") return end
    local path = dir .. "/upload.bin"
    local f = assert(io.open(path, "wb"))
    local data = {}
    for i = 1, 20000 do data[i] = string.char(i % 256, (i * 7) % 256, 13, 10) end
    data = table.concat(data)
    f:write(data)
    f:close()
    local out = run(CURL .. "-H 'Transfer-Encoding: chunked' --data-binary @" .. path
                    .. " " .. base .. "/echo")
    assert.are.equal(#data, #out)
    assert.is_true(out == data)
  end)

  it("answers curl --http1.0 and closes", function()
    if not have("curl") then pending("curl is not installed") return end
    local out = run(CURL .. "-i --http1.0 " .. base .. "/hello/old")
    assert.matches("^HTTP/1%.1 200 OK\r\n", out)
    assert.matches("\r\nConnection: close\r\n", out)
    assert.matches("hello old$", out)
  end)

  it("serves Python's http.client on one connection", function()
    if not have("python3") then pending("python3 is not installed") return end
    local host, port = base:match("^http://(.+):(%d+)$")
    local script = dir .. "/client.py"
    local f = assert(io.open(script, "w"))
    f:write(([[
import http.client, sys
c = http.client.HTTPConnection(%q, %s, timeout=%d)
c.request("GET", "/")
r = c.getresponse(); assert r.status == 200, r.status; assert r.read() == b"hello world"
sock = c.sock
c.request("POST", "/echo", body=b"x" * 100000, headers={"Content-Type": "application/octet-stream"})
r = c.getresponse(); assert r.read() == b"x" * 100000
c.request("POST", "/echo", body=iter([b"ab", b"cd"]), encode_chunked=True)
r = c.getresponse(); assert r.read() == b"abcd"
c.request("HEAD", "/hello/py")
r = c.getresponse(); assert r.status == 200; assert r.getheader("Content-Length") == "8"; r.read()
c.request("GET", "/nope")
r = c.getresponse(); assert r.status == 404; r.read()
c.request("DELETE", "/")
r = c.getresponse(); assert r.status == 405; assert "GET" in r.getheader("Allow"); r.read()
assert c.sock is sock, "the connection was not kept"
print("ok")
]]):format(host, port, helper.TIMEOUT))
    f:close()
    local out = run(helper.TOOL .. "python3 " .. script)
    assert.are.equal("ok\n", out)
  end)
end)

describe("the HTTP examples", function()
  for _, name in ipairs{"http_server", "http_stream", "static_site"} do
    it(name .. ".lua passes its --selftest", function()
      local p = helper.run_lua(("arg = {[0] = %q, '--selftest'}\ndofile(arg[0])")
                               :format("examples/" .. name .. ".lua"))
      local out = p:read("a")
      local ok = p:close()
      assert.matches("^listening on 127%.0%.0%.1:%d+\n", out)
      assert.is_nil(out:find("FAIL", 1, true), out)
      assert.is_true(ok, out)
    end)
  end
end)
