package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The expected hashes come from "openssl passwd -1|-5|-6 -salt S P".
func TestCrypt(t *testing.T) {
	for _, tc := range []struct{ password, hash string }{
		{"secret6", "$6$saltsalt$LMtDgChSrV.wGnnrAr7LXtxT9OYdesYYRBi0J7VAO0UoNpOTX5uxqMPmQ0Gkk2HMqd/t1jYDOamm5q1ro0ZhX/"},
		{"secret5", "$5$abcd$WrUpleS9iRxCEI.jwiwPFlRdcTIegBTTXkwrhwG3I46"},
		{"secret1", "$1$xy$rDjnftc2dLXhrQIQsTBn.."},
		{"a longer password that runs past one block of sixty-four bytes, surely", "$6$rounds=1234$abcdefghijklmnop$UwUi4B/hPreaR4g3oAwSiKiDE/ytmzb.p/YUjzQ3TP9xXLJrM3//8zIf1cLAy7LR87eL3Uh/io9ZdPVl87Sn6."},
		{"passwordpasswordpassword", "$1$abcdefgh$zrrFmBGAKhPcdoVkQ88kk/"},
	} {
		got, err := Crypt(tc.password, tc.hash)
		require.NoError(t, err)
		require.Equal(t, tc.hash, got, tc.password)
		bad, err := Crypt(tc.password+"x", tc.hash)
		require.NoError(t, err)
		require.NotEqual(t, tc.hash, bad)
	}
	_, err := Crypt("x", "$2y$10$abcdefghijklmnopqrstuv")
	require.ErrorContains(t, err, "unsupported password hash method '2y'")
	_, err = Crypt("x", "plain")
	require.ErrorContains(t, err, "unsupported password hash method")
}

func TestUserlistSection(t *testing.T) {
	cfg, err := parse(t, `userlist L
    group admins users alice
    group ops
    user alice password $5$abcd$WrUpleS9iRxCEI.jwiwPFlRdcTIegBTTXkwrhwG3I46
    user bob insecure-password pw groups ops
listen a
    mode http
    bind :80
    acl ok http_auth(L)
    http-request auth realm Inside unless ok
`)
	require.NoError(t, err)
	ul := cfg.Userlist("L")
	require.NotNil(t, ul)
	groups, ok := ul.Check("alice", "secret5")
	require.True(t, ok)
	require.Equal(t, []string{"admins"}, groups)
	_, ok = ul.Check("alice", "secret5") // remembered
	require.True(t, ok)
	_, ok = ul.Check("alice", "nope")
	require.False(t, ok)
	groups, ok = ul.Check("bob", "pw")
	require.True(t, ok)
	require.Equal(t, []string{"ops"}, groups)
	_, ok = ul.Check("carol", "pw")
	require.False(t, ok)
	r := cfg.Proxy("a", KindListen).HTTP.RequestRules[0]
	require.Equal(t, "auth", r.Action)
	require.Equal(t, "Inside", r.Value)
	require.Equal(t, 401, r.Status)

	for _, tc := range []struct{ text, msg string }{
		{"userlist\n", "'userlist' expects <name>"},
		{"userlist L\nuserlist L\n", "userlist 'L' has the same name"},
		{"userlist L\n    user a\n", "'user' expects <name> password|insecure-password"},
		{"userlist L\n    user a secret x\n", "expects 'password' or 'insecure-password'"},
		{"userlist L\n    user a password $2y$10$x\n", "unsupported password hash method '2y'"},
		{"userlist L\n    user a insecure-password x groups g\n", "user 'a' is in group 'g', which is not declared"},
		{"userlist L\n    group g users zed\n", "group 'g' names user 'zed', which is not declared"},
		{"userlist L\n    group g\n    group g\n", "group 'g' declared twice"},
		{"userlist L\n    user a insecure-password x\n    user a insecure-password y\n", "user 'a' declared twice"},
		{"userlist L\n    bind :80\n", "unknown keyword 'bind' in 'userlist' section"},
		{"listen a\n    mode http\n    bind :80\n    http-request deny if { http_auth(M) }\n", "unable to find userlist 'M'"},
		{"listen a\n    mode http\n    bind :80\n    http-request auth realm\n", "'auth': unexpected 'realm'"},
	} {
		_, err := parse(t, tc.text)
		require.ErrorContains(t, err, tc.msg, tc.text)
	}
}
