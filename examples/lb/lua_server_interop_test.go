package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropLuaServerAdminMatchesHAProxy: a script changes a server's
// maxconn and address and runs its check and session commands as
// haproxy's scripts do: the same return values and messages, the same
// state read back.
func TestInteropLuaServerAdminMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "srvadmin.lua", `
core.register_service("admin", "http", function(applet)
  local s = core.backends["be"].servers["s1"]
  local out = {}
  local function try(name, f) local ok, v = pcall(f) out[#out+1] = name .. "=" .. tostring(ok) .. ":" .. tostring(v) end
  try("get_maxconn", function() return s:get_maxconn() end)
  try("set_maxconn", function() return s:set_maxconn(42) end)
  try("get_maxconn", function() return s:get_maxconn() end)
  try("set_maxconn_s", function() return s:set_maxconn("17") end)
  try("set_maxconn_bad", function() return s:set_maxconn("abc") end)
  try("set_maxconn_trail", function() return s:set_maxconn("12x") end)
  try("get_maxconn", function() return s:get_maxconn() end)
  try("set_addr", function() return s:set_addr("127.0.0.2", 8081) end)
  try("get_addr", function() return s:get_addr() end)
  try("set_addr_same", function() return s:set_addr("127.0.0.2") end)
  try("set_addr_bad", function() return s:set_addr("nope") end)
  try("get_addr", function() return s:get_addr() end)
  for _, m in ipairs({"shut_sess", "check_disable", "check_enable", "agent_disable", "agent_enable", "check_force_nolb", "check_force_up"}) do
    try(m, function() return s[m](s) end)
  end
  try("get_puid", function() return tostring(s.get_puid) end)
  applet:start_response()
  applet:send(table.concat(out, "\n") .. "\n")
end)
`)
	want, got := luaServiceAnswersWith(t, script, "admin", "backend be\n    server s1 127.0.0.1:8080 maxconn 10\n")
	assert.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Contains(t, got.Body, "get_maxconn=true:42\n")
}
