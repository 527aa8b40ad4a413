package balancer

import (
	"regexp"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"testing"

	"github.com/stretchr/testify/require"
)

// HAProxy's replacement: the whole subject becomes the template, \N the
// groups, \xHH a byte, \ before anything else that character.
func TestExpandGroups(t *testing.T) {
	re := regexp.MustCompile(`^/old/([^/]*)/(.*)$`)
	subject := []byte("/old/a/b/c")
	m := re.FindSubmatchIndex(subject)
	for tmpl, want := range map[string]string{
		`/new/\2/\1`: "/new/b/c/a",
		`\0!`:        "/old/a/b/c!",
		`\x41\\\q\9`: `A\q`,
		`trailing\`:  `trailing\`,
		`\x4`:        "x4",
		`plain`:      "plain",
	} {
		require.Equal(t, want, string(acl.ExpandRefs(nil, []byte(tmpl), subject, m)), tmpl)
	}
}

// set-query keeps the path, adds '?' only for a value, and never drops
// one that is there.
func TestWithQuery(t *testing.T) {
	require.Equal(t, "/a?x=1", withQuery([]byte("/a?old"), []byte("x=1")))
	require.Equal(t, "/a?", withQuery([]byte("/a?old"), nil))
	require.Equal(t, "/a?x=1", withQuery([]byte("/a"), []byte("x=1")))
	require.Equal(t, "/a", withQuery([]byte("/a"), nil))
}
