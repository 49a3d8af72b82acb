-- make lint's consistency checks (luacheck runs separately):
--  * the rockspec builds lunasock.core and lunasock.tls from the same C
--    sources as the Makefile's SRCS and TLS_SRCS, and maps every Lua
--    module under lua/;
--  * every function and method registered in C is documented in docs/
--    (core.md for lunasock.core, tls.md for lunasock.tls).
-- Usage: lua5.4 bin/lint.lua   (from the project root). Exits 1 on a finding.
local findings = 0
local function finding(fmt, ...)
  findings = findings + 1
  io.stderr:write("lint: ", fmt:format(...), "\n")
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function compare(what, a, a_name, b, b_name)
  for k in pairs(a) do
    if not b[k] then finding("%s %s is in %s but not in %s", what, k, a_name, b_name) end
  end
  for k in pairs(b) do
    if not a[k] then finding("%s %s is in %s but not in %s", what, k, b_name, a_name) end
  end
end

-- Makefile SRCS and TLS_SRCS (with line continuations)
local makefile = read("Makefile"):gsub("\\\n", " ")
local function sources(var)
  local list = {}
  for path in (makefile:match("\n" .. var .. "%s*=%s*([^\n]*)") or ""):gmatch("%S+") do
    list[#list + 1] = path
  end
  if #list == 0 then finding("no %s in Makefile", var) end
  return list
end
local srcs = sources("SRCS")
local tls_srcs = sources("TLS_SRCS")

-- the rockspec, loaded as data in an empty environment
local env = {}
local chunk = assert(load(read("rockspec/lunasock-scm-1.rockspec"),
                          "rockspec", "t", env))
chunk()
local modules = env.build and env.build.modules or {}
local core = modules["lunasock.core"]
if type(core) ~= "table" then
  finding("rockspec does not build lunasock.core")
else
  compare("source", set(srcs), "Makefile", set(core.sources or {}), "rockspec")
end
local tlsmod = modules["lunasock.tls"]
if type(tlsmod) ~= "table" then
  finding("rockspec does not build lunasock.tls")
else
  compare("TLS source", set(tls_srcs), "Makefile", set(tlsmod.sources or {}), "rockspec")
end

-- every Lua module under lua/ is mapped, and every mapping exists
local listed = {}
for name, path in pairs(modules) do
  if type(path) == "string" then listed[path] = name end
end
local p = assert(io.popen("find lua -name '*.lua' | sort"))
for path in p:lines() do
  local name = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", "")
                   :gsub("/", ".")
  if listed[path] ~= name then
    finding("module %s (%s) is not mapped in the rockspec", name, path)
  end
  listed[path] = nil
end
p:close()
for path in pairs(listed) do finding("rockspec maps missing file %s", path) end

-- every function and method registered in the C sources srcs is in the
-- doc file docpath: a luaL_Reg array named *_funcs as "prefix.NAME(",
-- one named *_methods as ":NAME(". pattern picks the arrays' names.
local function check_c_docs(srcs_list, pattern, docpath, prefix)
  local docs = read(docpath)
  for _, src in ipairs(srcs_list) do
    local text = read(src)
    for array, body in text:gmatch("const luaL_Reg (" .. pattern .. ")%[%] = (%b{})") do
      local kind = array:match("_(%a+)$")
      for name in body:gmatch('{"([%w_]+)",') do
        local doc
        if kind == "funcs" then
          doc = prefix .. "." .. name .. "("
        elseif kind == "methods" then
          doc = ":" .. name .. "("
        end
        if doc and not docs:find(doc, 1, true) then
          finding("%s (%s in %s) is not documented in %s as `%s`",
                  name, array, src, docpath, doc)
        end
      end
    end
  end
end

check_c_docs(srcs, "lsk_[%w_]+", "docs/core.md", "core")
check_c_docs(tls_srcs, "[%w_]+", "docs/tls.md", "tls")

-- every exported Lua function is documented in docs/ (or is local): a
-- function of a module's table (function M.name, M.name = local_fn) must
-- appear there as "mod.name(" (mod: the module's last name, or the
-- table path inside it: "tcp.connect("), a method of one of its classes
-- (function Class:name / Class.name, Class a metatable's __index) as
-- ":name(" or ".name(". A table call ("frame.lines{") counts.
local alldocs = {}
do
  local dp = assert(io.popen("find docs -name '*.md' | sort"))
  for path in dp:lines() do alldocs[#alldocs + 1] = read(path) end
  dp:close()
  alldocs[#alldocs + 1] = read("README.md")
  alldocs = table.concat(alldocs, "\n")
end
local function documented(text)
  return alldocs:find(text, 1, true) ~= nil
end
local lp = assert(io.popen("find lua -name '*.lua' | sort"))
for path in lp:lines() do
  local text = read(path)
  local modname = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
  local short = modname:match("([%w_]+)$")
  local ret = text:match("\nreturn ([%a_][%w_]*)%s*$")
  local locals, classes = {}, {}
  for name in text:gmatch("\n([%a_][%w_]*)%.__index%s*=") do classes[name] = true end
  for name in text:gmatch("\n([%a_][%w_]*)%.__name%s*=") do classes[name] = true end
  for name in text:gmatch("__index%s*=%s*([%a_][%w_]*)") do classes[name] = true end
  for name in text:gmatch("\nlocal function ([%a_][%w_]*)") do locals[name] = true end
  local function check_field(tpath, name)
    if name:sub(1, 1) == "_" then return end
    local inner = tpath:match("^[%a_][%w_]*%.(.*)$")
    local want = (inner and (inner .. ".") or (short .. ".")) .. name .. "("
    if not documented(want) and not documented(want:sub(1, -2) .. "{") then
      finding("%s: %s.%s is exported but not documented in docs/ as `%s`",
              path, modname, (inner and inner .. "." or "") .. name, want)
    end
  end
  for line in text:gmatch("[^\n]+") do
    local tpath, sep, name = line:match("^function ([%a_][%w_%.]*)([%.:])([%a_][%w_]*)%s*%(")
    if tpath then
      local root = tpath:match("^[%a_][%w_]*")
      if root == ret and sep == "." then
        check_field(tpath, name)
      elseif classes[root] and name:sub(1, 1) ~= "_" then
        if not documented(":" .. name .. "(") and not documented("." .. name .. "(") then
          finding("%s: method %s%s%s is not documented in docs/ as `:%s(`",
                  path, tpath, sep, name, name)
        end
      end
    elseif ret then
      local t, n, v = line:match("^([%a_][%w_%.]*)%.([%a_][%w_]*)%s*=%s*([%a_][%w_]*)%s*$")
      if t and t:match("^[%a_][%w_]*") == ret and locals[v] then check_field(t, n) end
    end
  end
end
lp:close()

if findings > 0 then
  io.stderr:write(("lint: %d finding(s)\n"):format(findings))
  os.exit(1)
end
print("lint: rockspec, Makefile and docs agree")
