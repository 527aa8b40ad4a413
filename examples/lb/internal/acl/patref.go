package acl

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Pattern references: the entries of one ACL pattern file or map file,
// shared by every ACL and map converter that names the file, and
// changeable while the balancer runs (the runtime API's add, set, del,
// clear, prepare and commit commands; the set-map, del-map, add-acl and
// del-acl actions), as HAProxy's pattern references are.
//
// A reference keeps its entries in the order they came (the file's, then
// the order of additions). Each user, an ACL expression or a map
// converter, keeps its own index of the entries of the current version
// and is told of every change. Entries of another version (added under
// "@VER" after "prepare") wait, unseen, until that version is committed.

// Refs holds the pattern references of one configuration, by file name.
// The zero value is not usable: use NewRefs. A nil *Refs is: every
// reference it gives is private to its one user (what a configuration
// check needs, where nothing runs).
type Refs struct {
	mu     sync.Mutex
	byName map[string]*Ref
	list   []*Ref
	nextID int
	nextEl atomic.Uint64
	// scripts are the fetches and converters of the configuration's
	// scripts (SetScripts).
	scripts Scripts
	// dir is what relative file names are read from (SetDir), paths
	// where each name was first read from.
	dir   string
	paths map[string]string
	// checked, on a view CheckView made, is the registry it reads names
	// for.
	checked *Refs
}

// SetDir sets the directory the relative file names met from now on are
// read from (a configuration's default-path); "" is the working
// directory. A name is read from where it was first met, even by a
// CheckView, and a reference keeps the name it was given.
func (rs *Refs) SetDir(dir string) {
	rs.mu.Lock()
	rs.dir = dir
	rs.mu.Unlock()
}

// CheckView returns a registry for checking expressions while a
// configuration is read: as with a nil registry, every reference it
// gives is private to its one user, but a relative file name is read
// from rs's directory, and rs reads that name from the same place when
// it loads it later. CheckView of nil is nil.
func (rs *Refs) CheckView() *Refs {
	if rs == nil {
		return nil
	}
	return &Refs{checked: rs}
}

// private reports whether rs gives private references: nil, or a
// CheckView.
func (rs *Refs) private() bool { return rs == nil || rs.checked != nil }

// path is where the file of name is read from; rs.mu is held.
func (rs *Refs) path(name string) string {
	if p, ok := rs.paths[name]; ok {
		return p
	}
	p := name
	if rs.dir != "" && !filepath.IsAbs(p) {
		p = filepath.Join(rs.dir, p)
	}
	if rs.paths == nil {
		rs.paths = map[string]string{}
	}
	rs.paths[name] = p
	return p
}

// NewRefs returns an empty registry.
func NewRefs() *Refs { return &Refs{byName: map[string]*Ref{}} }

// Ref kinds, as "show map" and "show acl" list them: a reference is a
// map when a map converter or a set-map/del-map action uses it, an ACL
// when an ACL or an add-acl/del-acl action does.
const (
	RefACL = 1 << iota
	RefMap
)

// Ref is one pattern reference: a file's entries.
type Ref struct {
	// ID is the reference's number, "#ID" in the runtime API.
	ID int
	// Name is the file name.
	Name string

	refs    *Refs
	kind    int
	twoCols bool        // the file holds "key value" lines
	loaded  atomic.Bool // read from the file (not only named by an action)

	mu         sync.Mutex
	entries    []*RefEntry
	byKey      map[string][]*RefEntry
	curr, next uint32
	users      []refUser
}

// RefEntry is one entry of a reference: a pattern (map key) and, in a
// map, its value.
type RefEntry struct {
	// ID identifies the entry in "show map" ("0x" and hex digits) and
	// "del map FILE #ID".
	ID uint64
	// Key is the pattern, or the map's key; Value the map's value.
	Key, Value string
	gen        uint32
	line       int // the file's line, 0 for an entry added at run time
}

// refUser is an ACL expression or a map converter over a reference: it
// indexes the current version's entries and is told of each change, with
// the reference's lock held.
type refUser interface {
	// check reports whether the user can take the entry as it is;
	// checkValue whether it can take an entry's new value.
	check(e *RefEntry) error
	checkValue(v string) error
	// reset replaces the user's index with these entries.
	reset(entries []*RefEntry) error
	add(e *RefEntry)
	del(e *RefEntry)
	set(e *RefEntry) // e's value changed
	// describe reports how the user matches value, for "get map/acl".
	describe(value string) string
}

// cliSample reads a value given to "get map" or "get acl" as the sample
// a match method compares: an address for ip, an integer for int, text
// otherwise (or when it does not read as either).
func cliSample(method, value string) Sample {
	switch method {
	case "ip":
		if a, err := netip.ParseAddr(value); err == nil {
			return IP(a)
		}
	case "int":
		if n, err := strconv.ParseInt(value, 10, 64); err == nil {
			return Int(n)
		}
	}
	return Str(value)
}

// Ref errors the runtime API reports.
var (
	// ErrRefNotFound: no entry has this key or identifier.
	ErrRefNotFound = errors.New("entry not found")
	// ErrRefVersion: commit of a version that is not pending.
	ErrRefVersion = errors.New("version number out of range")
)

// load returns the reference for file name, reading the file the first
// time. twoCols tells a map file from an ACL pattern file; kind is what
// uses it (RefACL or RefMap).
func (rs *Refs) load(name string, twoCols bool, kind int) (*Ref, error) {
	if rs.private() {
		r := &Ref{ID: -1, Name: name, twoCols: twoCols, kind: kind}
		path := name
		if rs != nil {
			rs.checked.mu.Lock()
			path = rs.checked.path(name)
			rs.checked.mu.Unlock()
		}
		if err := r.readFile(path); err != nil {
			return nil, err
		}
		return r, nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.byName[name]
	if r == nil {
		r = rs.newRef(name, twoCols)
	} else if r.loaded.Load() && r.twoCols != twoCols {
		cols := func(two bool) string {
			if two {
				return "a two column file (key and value)"
			}
			return "a one column file (patterns)"
		}
		return nil, fmt.Errorf("the file <%s> is already used as %s and cannot be used as %s", name, cols(r.twoCols), cols(twoCols))
	}
	if !r.loaded.Load() {
		r.twoCols = twoCols
		if err := r.readFile(rs.path(name)); err != nil {
			return nil, err
		}
		// Numbered and listed in the order the files are read.
		r.ID = rs.nextID
		rs.nextID++
		rs.list = append(rs.list, r)
	}
	r.kind |= kind
	return r, nil
}

// newRef registers an empty reference, numbered once its file is read;
// rs.mu is held.
func (rs *Refs) newRef(name string, twoCols bool) *Ref {
	r := &Ref{ID: -1, Name: name, refs: rs, twoCols: twoCols, byKey: map[string][]*RefEntry{}}
	rs.byName[name] = r
	return r
}

// Named returns the reference for file name as an action names it
// (set-map, del-map: kind RefMap; add-acl, del-acl: RefACL). The file is
// not read: as in HAProxy, an action changes a file's entries only when
// an ACL or a map converter loads it, and a name nothing loads gives a
// reference that stays unlisted and unused. It returns nil on a nil
// registry.
func (rs *Refs) Named(name string, kind int) *Ref {
	if rs.private() {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.byName[name]
	if r == nil {
		r = rs.newRef(name, kind == RefMap)
	}
	r.kind |= kind
	return r
}

// Lookup finds a loaded reference by file name or "#ID" and kind.
func (rs *Refs) Lookup(name string, kind int) *Ref {
	if rs.private() {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if id, ok := strings.CutPrefix(name, "#"); ok {
		n, err := strconv.Atoi(id)
		if err != nil {
			return nil
		}
		for _, r := range rs.list {
			if r.ID == n && r.loaded.Load() && r.kind&kind != 0 {
				return r
			}
		}
		return nil
	}
	if r := rs.byName[name]; r != nil && r.loaded.Load() && r.kind&kind != 0 {
		return r
	}
	return nil
}

// List returns the loaded references of kind, by number.
func (rs *Refs) List(kind int) []*Ref {
	if rs.private() {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []*Ref
	for _, r := range rs.list {
		if r.loaded.Load() && r.kind&kind != 0 {
			out = append(out, r)
		}
	}
	return out
}

// readFile reads the reference's file: one entry a line. A line starting
// with '#' and an empty one are skipped, leading blanks dropped. In a
// pattern file the rest of the line is the pattern (its inner and
// trailing blanks too); in a map file the key runs to the first blank
// and the value, trimmed, is the rest. The file is read from path, which
// differs from the name when default-path is set.
func (r *Ref) readFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if r.twoCols {
			return fmt.Errorf("failed to open map file <%s>: %w", r.Name, err)
		}
		return fmt.Errorf("failed to open pattern file <%s>: %w", r.Name, err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimLeft(line, " \t")
		if j := strings.IndexByte(line, '\r'); j >= 0 {
			line = line[:j]
		}
		var key, value string
		if r.twoCols {
			key, value = SplitMapLine(line)
		} else {
			key = line
		}
		if key == "" {
			continue
		}
		r.appendEntry(key, value, 0, i+1)
	}
	r.loaded.Store(true)
	return nil
}

// SplitMapLine splits a map line, its leading blanks gone, into its key,
// which runs to the first space or tab, and its value, the rest less the
// blanks around it; blanks inside the value stay as they are.
func SplitMapLine(line string) (key, value string) {
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return line, ""
	}
	return line[:i], strings.Trim(line[i:], " \t")
}

// appendEntry adds an entry at the end, without telling the users; r.mu
// is held or r not yet shared.
func (r *Ref) appendEntry(key, value string, gen uint32, line int) *RefEntry {
	e := &RefEntry{Key: key, Value: value, gen: gen, line: line}
	if r.refs != nil {
		e.ID = r.refs.nextEl.Add(1)
	}
	r.entries = append(r.entries, e)
	if r.byKey == nil {
		r.byKey = map[string][]*RefEntry{}
	}
	r.byKey[key] = append(r.byKey[key], e)
	return e
}

// addUser indexes the current entries in u and keeps it told of changes.
func (r *Ref) addUser(u refUser) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := u.reset(r.visible()); err != nil {
		return err
	}
	r.users = append(r.users, u)
	return nil
}

// visible returns the entries of the current version; r.mu is held.
func (r *Ref) visible() []*RefEntry {
	out := make([]*RefEntry, 0, len(r.entries))
	for _, e := range r.entries {
		if e.gen == r.curr {
			out = append(out, e)
		}
	}
	return out
}

// Kind reports what uses the reference: RefACL, RefMap or both.
func (r *Ref) Kind() int {
	if r.refs == nil {
		return r.kind
	}
	r.refs.mu.Lock()
	defer r.refs.mu.Unlock()
	return r.kind
}

// TwoColumns reports whether the reference's entries have values: it is
// read as a map ("key value" lines), not as ACL patterns.
func (r *Ref) TwoColumns() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.twoCols
}

// Versions returns the current version and the last one prepared, and
// the number of entries of every version.
func (r *Ref) Versions() (curr, next uint32, entries int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.curr, r.next, len(r.entries)
}

// Entries returns a copy of the entries of version ver, in order.
func (r *Ref) Entries(ver uint32) []RefEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []RefEntry
	for _, e := range r.entries {
		if e.gen == ver {
			out = append(out, *e)
		}
	}
	return out
}

// Current returns the current version.
func (r *Ref) Current() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.curr
}

// Add appends an entry to version ver. Every user of the reference must
// accept it (a map's value must read as the map's output type, an ACL's
// pattern as its match method's); otherwise nothing changes and the
// error says why.
func (r *Ref) Add(ver uint32, key, value string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.add(ver, key, value)
}

func (r *Ref) add(ver uint32, key, value string) error {
	probe := &RefEntry{Key: key, Value: value, gen: ver}
	if ver == r.curr {
		for _, u := range r.users {
			if err := u.check(probe); err != nil {
				return err
			}
		}
	}
	e := r.appendEntry(key, value, ver, 0)
	if ver == r.curr {
		for _, u := range r.users {
			u.add(e)
		}
	}
	return nil
}

// find returns the entries "#0xID" or key names.
func (r *Ref) find(keyOrID string) []*RefEntry {
	if id, ok := strings.CutPrefix(keyOrID, "#0x"); ok {
		n, err := strconv.ParseUint(id, 16, 64)
		if err != nil {
			return nil
		}
		for _, e := range r.entries {
			if e.ID == n {
				return []*RefEntry{e}
			}
		}
		return nil
	}
	return r.byKey[keyOrID]
}

// Set gives value to the entries keyOrID names: every entry with that
// key, or the one entry "#ID" identifies. The users must accept the new
// value.
func (r *Ref) Set(keyOrID, value string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	found := r.find(keyOrID)
	if len(found) == 0 {
		return ErrRefNotFound
	}
	return r.setAll(found, value)
}

func (r *Ref) setAll(found []*RefEntry, value string) error {
	if slices.ContainsFunc(found, func(e *RefEntry) bool { return e.gen == r.curr }) {
		for _, u := range r.users {
			if err := u.checkValue(value); err != nil {
				return err
			}
		}
	}
	for _, e := range found {
		e.Value = value
		if e.gen == r.curr {
			for _, u := range r.users {
				u.set(e)
			}
		}
	}
	return nil
}

// Delete removes the entries keyOrID names.
func (r *Ref) Delete(keyOrID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	found := slices.Clone(r.find(keyOrID))
	if len(found) == 0 {
		return ErrRefNotFound
	}
	r.remove(found)
	return nil
}

// remove takes the entries out of the reference and its users.
func (r *Ref) remove(found []*RefEntry) {
	for _, e := range found {
		if e.gen == r.curr {
			for _, u := range r.users {
				u.del(e)
			}
		}
		if l := slices.DeleteFunc(r.byKey[e.Key], func(x *RefEntry) bool { return x == e }); len(l) == 0 {
			delete(r.byKey, e.Key)
		} else {
			r.byKey[e.Key] = l
		}
	}
	r.entries = slices.DeleteFunc(r.entries, func(x *RefEntry) bool { return slices.Contains(found, x) })
}

// Clear removes every entry of version ver.
func (r *Ref) Clear(ver uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.purge(func(e *RefEntry) bool { return e.gen == ver })
	if ver == r.curr {
		r.resetUsers()
	}
}

// purge drops the entries drop selects, without telling the users.
func (r *Ref) purge(drop func(*RefEntry) bool) {
	r.entries = slices.DeleteFunc(r.entries, drop)
	for k, l := range r.byKey {
		if l = slices.DeleteFunc(l, drop); len(l) == 0 {
			delete(r.byKey, k)
		} else {
			r.byKey[k] = l
		}
	}
}

// resetUsers rebuilds every user's index from the current version.
// The entries were accepted one by one, so a user cannot refuse them.
func (r *Ref) resetUsers() {
	vis := r.visible()
	for _, u := range r.users {
		_ = u.reset(vis)
	}
}

// Prepare opens a new version for entries that will replace the current
// ones at once when committed, and returns its number.
func (r *Ref) Prepare() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	return r.next
}

// Commit makes version ver, one prepared and not yet committed, the
// current one: older versions' entries are dropped, newer ones kept
// waiting.
func (r *Ref) Commit(ver uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if int32(ver-r.curr) <= 0 || int32(ver-r.next) > 0 {
		return ErrRefVersion
	}
	// A pending version's entries were not checked when added: the users
	// must take all of them, or the commit fails and nothing changes.
	for _, e := range r.entries {
		if e.gen != ver {
			continue
		}
		for _, u := range r.users {
			if err := u.check(e); err != nil {
				return err
			}
		}
	}
	r.curr = ver
	r.purge(func(e *RefEntry) bool { return int32(e.gen-ver) < 0 })
	r.resetUsers()
	return nil
}

// Describe reports how each user of the reference matches value, one
// line each, as "get map" and "get acl" answer.
func (r *Ref) Describe(value string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.users))
	for _, u := range r.users {
		out = append(out, u.describe(value))
	}
	return out
}

// SetOrAdd is the set-map action: every current entry with key takes
// value, or a new entry is added when there is none. A value a user
// refuses changes nothing.
func (r *Ref) SetOrAdd(key, value string) {
	if !r.loaded.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var buf [4]*RefEntry
	if cur := r.current(buf[:0], key); len(cur) > 0 {
		_ = r.setAll(cur, value)
		return
	}
	_ = r.add(r.curr, key, value)
}

// current appends to dst the entries of the current version with key;
// r.mu is held.
func (r *Ref) current(dst []*RefEntry, key string) []*RefEntry {
	for _, e := range r.byKey[key] {
		if e.gen == r.curr {
			dst = append(dst, e)
		}
	}
	return dst
}

// AddOnce is the add-acl action: key is added unless the current version
// has it.
func (r *Ref) AddOnce(key string) {
	if !r.loaded.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var buf [4]*RefEntry
	if len(r.current(buf[:0], key)) == 0 {
		_ = r.add(r.curr, key, "")
	}
}

// DeleteKey is the del-map and del-acl action: every current entry with
// key goes.
func (r *Ref) DeleteKey(key string) {
	if !r.loaded.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var buf [4]*RefEntry
	if cur := r.current(buf[:0], key); len(cur) > 0 {
		r.remove(cur)
	}
}
