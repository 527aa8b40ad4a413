package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropLuaDatesMatchHAProxy: core.http_date, imf_date,
// rfc850_date and asctime_date read the three HTTP date formats, and
// what is not quite one of them, as haproxy's do.
func TestInteropLuaDatesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "dates.lua", `
core.register_service("dates", "http", function(applet)
  local ins = {
    "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
    "Sun Nov 6 08:49:37 1994", "Mon, 06 Nov 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT x", "Sun, 31 Feb 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 25:61:99 GMT", "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
    "Sun, 06 Nov 10000 08:49:37 GMT", "sun, 06 nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 gmt",
    "Xyz, 06 Nov 1994 08:49:37 GMT", " Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 0001 00:00:00 GMT",
    "Sun, 06 Nov 2040 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", "Wed, 31 Dec 1969 23:59:59 GMT",
    "Sunday, 06-Nov-00 08:49:37 GMT", "Sunday, 06-Nov-49 08:49:37 GMT", "Sunday, 06-Nov-50 08:49:37 GMT",
    "Sunday, 06-Nov-60 08:49:37 GMT", "Sunday, 06-Nov-61 08:49:37 GMT", "Sunday, 06-Nov-68 08:49:37 GMT", "Sunday, 06-Nov-69 08:49:37 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT",
    "Funday, 06-Nov-94 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT", "Saturday, 06-Nov-94 08:49:37 GMT extra",
    "Sun Nov 16 08:49:37 1994", "Sun Nov 06 08:49:37 1994", "Sun Nov  6 8:49:37 1994", "Sun Nov  6 08:49:37 94",
    "Sun Nov  6 08:49:37 1994 GMT", "garbage", "",
  }
  local out = {}
  for _, s in ipairs(ins) do
    local r = {}
    for _, f in ipairs({"http_date", "imf_date", "rfc850_date", "asctime_date"}) do
      r[#r+1] = tostring(core[f](s))
    end
    out[#out+1] = s .. " => " .. table.concat(r, " ")
  end
  out[#out+1] = "number " .. tostring(core.http_date(12))
  applet:start_response()
  applet:send(table.concat(out, "\n") .. "\n")
end)
`)
	want, got := luaServiceAnswers(t, script, "dates")
	assert.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Contains(t, got.Body, "Sun, 06 Nov 1994 08:49:37 GMT => 784111777 784111777 nil nil\n")
}
