package acl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeTemp(t testing.TB, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// lookup compiles expr against rs and returns its sample's text, "-"
// when there is none.
func lookup(t *testing.T, rs *Refs, expr string) string {
	t.Helper()
	_, fn, err := rs.CompileFetch(expr)
	require.NoError(t, err, expr)
	s, ok := fn(newCtx("10.1.2.3:1000"))
	if !ok {
		return "-"
	}
	return s.String()
}

// TestRefSharedByItsUsers checks that a map file read by two converters
// and an ACL is one reference: an entry added, changed or deleted shows
// in all three, and the beg map keeps finding the longest prefix.
func TestRefSharedByItsUsers(t *testing.T) {
	rs := NewRefs()
	f := writeTemp(t, "paths.map", "/a first\n/ab second\n")
	// Each path's users are compiled once, before any change.
	set := &Set{Refs: rs}
	users := map[string][3]func() string{}
	c := newCtx("10.1.2.3:1000")
	for i, path := range []string{"/a", "/ab", "/abc", "/abcd"} {
		_, exact, err := rs.CompileFetch("str(" + path + "),map(" + f + ",none)")
		require.NoError(t, err)
		_, beg, err := rs.CompileFetch("str(" + path + "),map_beg(" + f + ",none)")
		require.NoError(t, err)
		name := fmt.Sprintf("known%d", i)
		require.NoError(t, set.Add([]string{name, "str(" + path + ")", "-M", "-f", f}))
		users[path] = [3]func() string{
			func() string { s, _ := exact(c); return s.String() },
			func() string { s, _ := beg(c); return s.String() },
			func() string { return fmt.Sprint(set.Get(name).Eval(c)) },
		}
	}
	at := func(path string) string {
		u := users[path]
		return u[0]() + " " + u[1]() + " " + u[2]()
	}
	assert.Equal(t, "second second true", at("/ab"))
	assert.Equal(t, "none second false", at("/abc"))

	ref := rs.Lookup(f, RefMap)
	require.NotNil(t, ref)
	assert.Same(t, ref, rs.Lookup(f, RefACL), "one reference for the map and the ACL")
	assert.Same(t, ref, rs.Lookup(fmt.Sprintf("#%d", ref.ID), RefMap))
	require.NoError(t, ref.Add(ref.Current(), "/abc", "third"))
	assert.Equal(t, "third third true", at("/abc"))
	assert.Equal(t, "none third false", at("/abcd"), "the longest prefix, though added last")
	require.NoError(t, ref.Set("/abc", "3rd"))
	assert.Equal(t, "3rd 3rd true", at("/abc"))
	require.NoError(t, ref.Delete("/ab"))
	assert.Equal(t, "none first false", at("/ab"))
	assert.ErrorIs(t, ref.Delete("/ab"), ErrRefNotFound)
	assert.ErrorIs(t, ref.Set("/zz", "v"), ErrRefNotFound)

	// By entry id, as "show map" prints it.
	var id uint64
	for _, e := range ref.Entries(ref.Current()) {
		if e.Key == "/a" {
			id = e.ID
		}
	}
	require.NotZero(t, id)
	require.NoError(t, ref.Set(fmt.Sprintf("#%#x", id), "1st"))
	assert.Equal(t, "1st 1st true", at("/a"))
	require.NoError(t, ref.Delete(fmt.Sprintf("#%#x", id)))
	assert.Equal(t, "none none false", at("/a"))
	ref.Clear(ref.Current())
	assert.Equal(t, "none none false", at("/abc"))
	assert.Empty(t, ref.Entries(ref.Current()))
}

// TestRefRefusesWhatAUserCannotRead checks that an entry one user of the
// file cannot take (a value that is no integer for map_str_int, a
// pattern that is no address for an ip ACL) is refused whole: no user
// sees it, and the error says why.
func TestRefRefusesWhatAUserCannotRead(t *testing.T) {
	rs := NewRefs()
	f := writeTemp(t, "n.map", "a 1\n")
	assert.Equal(t, "1", lookup(t, rs, "str(a),map_str_int("+f+")"))
	assert.Equal(t, "1", lookup(t, rs, "str(a),map("+f+")"))
	ref := rs.Lookup(f, RefMap)
	err := ref.Add(0, "b", "x")
	var ve *ValueError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "x", ve.Value)
	assert.Len(t, ref.Entries(0), 1, "nothing added")
	assert.Equal(t, "-", lookup(t, rs, "str(b),map("+f+")"))
	require.ErrorAs(t, ref.Set("a", "y"), &ve)
	assert.Equal(t, "1", lookup(t, rs, "str(a),map("+f+")"), "nothing changed")

	ips := writeTemp(t, "ips.lst", "10.0.0.0/8\n")
	set := &Set{Refs: rs}
	require.NoError(t, set.Add([]string{"net", "src", "-f", ips}))
	ipRef := rs.Lookup(ips, RefACL)
	require.Error(t, ipRef.Add(0, "not-an-address", ""))
	require.NoError(t, ipRef.Add(0, "192.168.0.0/16", ""))
	assert.True(t, set.Get("net").Eval(newCtx("192.168.3.4:1")))
	assert.Len(t, ipRef.Entries(0), 2)
}

// TestRefVersions checks prepare and commit: entries of a prepared
// version stay unseen until it is committed, which drops older versions
// and keeps newer ones; only a prepared, uncommitted version commits;
// and a commit whose entries a user refuses changes nothing.
func TestRefVersions(t *testing.T) {
	rs := NewRefs()
	f := writeTemp(t, "v.map", "k old\n")
	get := func(k string) string { return lookup(t, rs, "str("+k+"),map("+f+")") }
	assert.Equal(t, "old", get("k"))
	ref := rs.Lookup(f, RefMap)
	v1, v2 := ref.Prepare(), ref.Prepare()
	assert.Equal(t, []uint32{1, 2}, []uint32{v1, v2})
	require.NoError(t, ref.Add(v1, "k", "new"))
	require.NoError(t, ref.Add(v2, "k", "newer"))
	assert.Equal(t, "old", get("k"), "versions wait for their commit")
	curr, next, n := ref.Versions()
	assert.Equal(t, []any{uint32(0), uint32(2), 3}, []any{curr, next, n})
	assert.ErrorIs(t, ref.Commit(3), ErrRefVersion, "never prepared")
	assert.ErrorIs(t, ref.Commit(0), ErrRefVersion, "the current one")
	require.NoError(t, ref.Commit(v1))
	assert.Equal(t, "new", get("k"))
	assert.ErrorIs(t, ref.Commit(v1), ErrRefVersion, "already committed")
	curr, _, n = ref.Versions()
	assert.Equal(t, []any{uint32(1), 2}, []any{curr, n}, "version 0 dropped, version 2 kept")
	require.NoError(t, ref.Commit(v2))
	assert.Equal(t, "newer", get("k"))

	// A pending value the int map cannot read fails the commit.
	_, _, err := rs.CompileFetch("str(k),map_str_int(" + f + ")")
	require.Error(t, err, "'newer' is no integer")
	bad := writeTemp(t, "i.map", "k 1\n")
	assert.Equal(t, "1", lookup(t, rs, "str(k),map_str_int("+bad+")"))
	iref := rs.Lookup(bad, RefMap)
	v := iref.Prepare()
	require.NoError(t, iref.Add(v, "k", "nope"), "not checked until the commit")
	var ve *ValueError
	require.ErrorAs(t, iref.Commit(v), &ve)
	assert.Equal(t, uint32(0), iref.Current())
	assert.Equal(t, "1", lookup(t, rs, "str(k),map_str_int("+bad+")"))
	iref.Clear(v)
	assert.Empty(t, iref.Entries(v))
}

// TestRefActions checks set-map (change the key's entries or add one),
// add-acl (add once), del-map and del-acl, and that a file no ACL or map
// reads is left alone, as in HAProxy.
func TestRefActions(t *testing.T) {
	rs := NewRefs()
	f := writeTemp(t, "a.map", "k 1\nk 2\n")
	assert.Equal(t, "1", lookup(t, rs, "str(k),map("+f+")"))
	ref := rs.Named(f, RefMap)
	assert.Same(t, ref, rs.Lookup(f, RefMap))
	ref.SetOrAdd("k", "9")
	assert.Equal(t, []string{"k 9", "k 9"}, entryTexts(ref))
	ref.SetOrAdd("n", "5")
	assert.Equal(t, "5", lookup(t, rs, "str(n),map("+f+")"))
	ref.DeleteKey("k")
	assert.Equal(t, []string{"n 5"}, entryTexts(ref))
	ref.AddOnce("n")
	ref.AddOnce("m")
	assert.Equal(t, []string{"n 5", "m "}, entryTexts(ref))

	unread := rs.Named(filepath.Join(t.TempDir(), "none.map"), RefMap)
	unread.SetOrAdd("a", "b")
	unread.AddOnce("c")
	unread.DeleteKey("a")
	assert.Empty(t, entryTexts(unread))
	assert.Nil(t, rs.Lookup(unread.Name, RefMap), "not listed")
	assert.Len(t, rs.List(RefMap), 1)
}

func entryTexts(r *Ref) []string {
	var out []string
	for _, e := range r.Entries(r.Current()) {
		out = append(out, e.Key+" "+e.Value)
	}
	return out
}

// TestRefColumnsConflict checks that one file cannot be both an ACL's
// pattern file and a map, as HAProxy refuses it, and that a file must
// exist to be read.
func TestRefColumnsConflict(t *testing.T) {
	rs := NewRefs()
	f := writeTemp(t, "p.lst", "a\n")
	set := &Set{Refs: rs}
	require.NoError(t, set.Add([]string{"x", "str(a)", "-f", f}))
	_, _, err := rs.CompileFetch("str(a),map(" + f + ")")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already used as a one column file")
	_, _, err = rs.CompileFetch("str(a),map(" + f + ".missing)")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "failed to open map file")
}

// TestRefConcurrentChanges looks entries up from several goroutines
// while others change the file, for the race detector, and checks the
// end state.
func TestRefConcurrentChanges(t *testing.T) {
	rs := NewRefs()
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "k%d v%d\n", i, i)
	}
	f := writeTemp(t, "c.map", b.String())
	_, fn, err := rs.CompileFetch("str(k7),map(" + f + ")")
	require.NoError(t, err)
	_, begFn, err := rs.CompileFetch("str(k77),map_beg(" + f + ")")
	require.NoError(t, err)
	ref := rs.Lookup(f, RefMap)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCtx("10.0.0.1:1")
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s, ok := fn(c); ok && !strings.HasPrefix(s.String(), "v") {
					t.Errorf("bad value %q", s.String())
					return
				}
				_, _ = begFn(c)
			}
		}()
	}
	for i := range 500 {
		k := fmt.Sprintf("n%d", i)
		ref.SetOrAdd(k, "v"+k)
		ref.SetOrAdd("k7", fmt.Sprintf("v%d", i))
		if i%2 == 0 {
			ref.DeleteKey(k)
		}
	}
	close(stop)
	wg.Wait()
	s, ok := fn(newCtx("10.0.0.1:1"))
	require.True(t, ok)
	assert.Equal(t, "v499", s.String())
	assert.Len(t, ref.Entries(0), 100+250)
}

// BenchmarkMapLookup is a map converter's lookup in a 10,000-entry map
// that can change at run time: it must not allocate.
func BenchmarkMapLookup(b *testing.B) {
	rs := NewRefs()
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "key%d value%d\n", i, i)
	}
	f := writeTemp(b, "b.map", sb.String())
	_, fn, err := rs.CompileFetch("str(key5000),map(" + f + ")")
	require.NoError(b, err)
	c := newCtx("10.0.0.1:1")
	b.ReportAllocs()
	for b.Loop() {
		if s, ok := fn(c); !ok || s.Str != "value5000" {
			b.Fatal("no match")
		}
	}
}

// BenchmarkSetMap is the set-map action on an existing key of a
// 10,000-entry map read by a str and a beg converter.
func BenchmarkSetMap(b *testing.B) {
	rs := NewRefs()
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "key%d value%d\n", i, i)
	}
	f := writeTemp(b, "b.map", sb.String())
	for _, conv := range []string{"map", "map_beg"} {
		_, _, err := rs.CompileFetch("str(x)," + conv + "(" + f + ")")
		require.NoError(b, err)
	}
	ref := rs.Lookup(f, RefMap)
	b.ReportAllocs()
	for b.Loop() {
		ref.SetOrAdd("key5000", "other")
	}
}

// BenchmarkAddACL is add-acl then del-acl of an address on a 10,000-line
// ip pattern file: each change compiles the ACL's patterns again.
func BenchmarkAddACL(b *testing.B) {
	rs := NewRefs()
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "10.%d.%d.0/24\n", i/256, i%256)
	}
	f := writeTemp(b, "ips.lst", sb.String())
	set := &Set{Refs: rs}
	require.NoError(b, set.Add([]string{"blocked", "src", "-f", f}))
	ref := rs.Lookup(f, RefACL)
	b.ReportAllocs()
	for b.Loop() {
		ref.AddOnce("192.168.1.1")
		ref.DeleteKey("192.168.1.1")
	}
}

// TestACLFileIndexes checks the str and ip ACLs over a file that
// changes: a pattern twice stays matched until both are gone, -i folds
// case, networks of several lengths each match, and a network's last
// address going leaves the others.
func TestACLFileIndexes(t *testing.T) {
	rs := NewRefs()
	ips := writeTemp(t, "ips.lst", "10.0.0.0/8\n192.168.1.0/255.255.255.0\n2001:db8::/32\n10.0.0.0/8\n")
	hosts := writeTemp(t, "hosts.lst", "Example.com\n")
	set := &Set{Refs: rs}
	require.NoError(t, set.Add([]string{"net", "src", "-f", ips}))
	require.NoError(t, set.Add([]string{"host", "str(EXAMPLE.com)", "-i", "-f", hosts}))
	require.NoError(t, set.Add([]string{"hostcase", "str(EXAMPLE.com)", "-f", hosts}))
	in := func(src string) bool { return set.Get("net").Eval(newCtx(src)) }
	assert.True(t, in("10.9.9.9:1"))
	assert.True(t, in("192.168.1.200:1"))
	assert.True(t, in("[2001:db8::1]:1"))
	assert.True(t, in("[::ffff:10.1.1.1]:1"), "a v4-mapped address is the v4 one")
	assert.False(t, in("192.168.2.1:1"))
	c := newCtx("1.1.1.1:1")
	assert.True(t, set.Get("host").Eval(c))
	assert.False(t, set.Get("hostcase").Eval(c))

	ref := rs.Lookup(ips, RefACL)
	var first uint64
	for _, e := range ref.Entries(0) {
		if e.Key == "10.0.0.0/8" && first == 0 {
			first = e.ID
		}
	}
	require.NoError(t, ref.Delete(fmt.Sprintf("#%#x", first)))
	assert.True(t, in("10.9.9.9:1"), "the second 10.0.0.0/8 line still holds it")
	ref.DeleteKey("10.0.0.0/8")
	assert.False(t, in("10.9.9.9:1"))
	assert.True(t, in("192.168.1.200:1"))
	ref.AddOnce("10.1.2.3")
	assert.True(t, in("10.1.2.3:1"))
	assert.False(t, in("10.1.2.4:1"))
	href := rs.Lookup(hosts, RefACL)
	href.DeleteKey("Example.com")
	assert.False(t, set.Get("host").Eval(c))
	href.AddOnce("example.COM")
	assert.True(t, set.Get("host").Eval(c))
}

// BenchmarkACLFileLookup matches an address against a 10,000-network
// pattern file that can change at run time.
func BenchmarkACLFileLookup(b *testing.B) {
	rs := NewRefs()
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "10.%d.%d.0/24\n", i/256, i%256)
	}
	fmt.Fprintf(&sb, "172.16.0.0/12\n192.168.7.7\n")
	f := writeTemp(b, "ips.lst", sb.String())
	set := &Set{Refs: rs}
	require.NoError(b, set.Add([]string{"blocked", "src", "-f", f}))
	a := set.Get("blocked")
	c := newCtx("192.168.7.8:1000")
	b.ReportAllocs()
	for b.Loop() {
		if a.Eval(c) {
			b.Fatal("matched")
		}
	}
}

// TestMapIPChanges checks map_ip over a file that changes: the longest
// network holding the address wins whatever the order of the lines, the
// first of equal networks, and deleting one falls back to the next.
func TestMapIPChanges(t *testing.T) {
	rs := NewRefs()
	f := writeTemp(t, "nets.map", "10.1.0.0/16 narrow\n10.0.0.0/8 wide\n10.1.0.0/255.255.0.0 same\n::/0 any6\n")
	_, fn, err := rs.CompileFetch("src,map_ip(" + f + ",none)")
	require.NoError(t, err)
	at := func(src string) string {
		s, ok := fn(newCtx(src))
		require.True(t, ok)
		return s.String()
	}
	assert.Equal(t, "narrow", at("10.1.2.3:1"))
	assert.Equal(t, "wide", at("10.2.2.3:1"))
	assert.Equal(t, "any6", at("[2001:db8::1]:1"))
	assert.Equal(t, "none", at("11.0.0.1:1"))
	ref := rs.Lookup(f, RefMap)
	require.NoError(t, ref.Add(0, "10.1.2.0/24", "narrower"))
	assert.Equal(t, "narrower", at("10.1.2.3:1"))
	require.NoError(t, ref.Delete("10.1.2.0/24"))
	require.NoError(t, ref.Delete("10.1.0.0/16"))
	assert.Equal(t, "same", at("10.1.2.3:1"), "the other line of that network")
	require.NoError(t, ref.Set("10.0.0.0/8", "WIDE"))
	assert.Equal(t, "WIDE", at("10.2.2.3:1"))
	require.Error(t, ref.Add(0, "not-a-net", "x"))
}

// TestSplitMapLine checks how a map line splits: the key to the first
// blank, the value trimmed, its inner tabs kept.
func TestSplitMapLine(t *testing.T) {
	for line, want := range map[string][2]string{
		"k v":             {"k", "v"},
		"k\tv":            {"k", "v"},
		"k \t v\tw  ":     {"k", "v\tw"},
		"key":             {"key", ""},
		"k  value words ": {"k", "value words"},
	} {
		k, v := SplitMapLine(line)
		assert.Equal(t, want, [2]string{k, v}, "%q", line)
	}
}

// TestRefsSetDir: a relative file name is read from the directory set
// when the name is first met, by a check view too; the registry reads it
// from there later, whatever the directory is then, and keeps the name
// as given.
func TestRefsSetDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "m.map"), []byte("a b\n"), 0o600))
	const expr = "str(a),map(m.map)"
	_, _, err := NewRefs().CompileFetch(expr)
	require.Error(t, err, "m.map is not in the working directory")

	rs := NewRefs()
	rs.SetDir(dir)
	_, _, err = rs.CheckView().CompileFetch(expr)
	require.NoError(t, err)
	require.Empty(t, rs.List(RefMap), "a check view's references are its own")
	rs.SetDir("")
	_, _, err = rs.CompileFetch(expr)
	require.NoError(t, err, "read from where the name was first met")
	refs := rs.List(RefMap)
	require.Len(t, refs, 1)
	require.Equal(t, "m.map", refs[0].Name)
	require.Nil(t, (*Refs)(nil).CheckView())
}
