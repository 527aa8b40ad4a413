package config

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
)

func init() {
	finishers = append(finishers, (*parser).finishUserlists)
}

// Userlist is a "userlist" section: users with their passwords and
// groups, which "http-request auth" and the http_auth fetches check
// HTTP basic credentials against.
type Userlist struct {
	Pos
	Name  string
	Users []*User
	// Groups are the declared groups, in order.
	Groups []string

	mu sync.Mutex
	// verified remembers credentials already checked against a hash, so
	// that a client sending them with every request costs one crypt.
	verified map[[sha256.Size]byte]bool
}

// User is one "user" line.
type User struct {
	Pos
	Name string
	// Password is a crypt(3) hash ($1$ MD5, $5$ SHA-256, $6$ SHA-512),
	// or the password itself when Insecure ("insecure-password").
	Password string
	Insecure bool
	// Groups are the groups the user is in, from its own line and from
	// the group lines naming it.
	Groups []string
}

// maxVerified bounds the credentials a userlist remembers.
const maxVerified = 1024

// Check reports whether user and password are one of the list's users
// and that user's password, and returns the user's groups.
func (ul *Userlist) Check(user, password string) (groups []string, ok bool) {
	for _, u := range ul.Users {
		if u.Name != user {
			continue
		}
		if u.Insecure {
			return u.Groups, subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
		}
		// Remembered by a digest, so that no password a client sent
		// stays in memory.
		key := sha256.Sum256([]byte(user + "\x00" + password))
		ul.mu.Lock()
		good, seen := ul.verified[key]
		ul.mu.Unlock()
		if !seen {
			sum, err := Crypt(password, u.Password)
			good = err == nil && subtle.ConstantTimeCompare([]byte(sum), []byte(u.Password)) == 1
			ul.mu.Lock()
			if ul.verified == nil {
				ul.verified = map[[sha256.Size]byte]bool{}
			}
			if len(ul.verified) < maxVerified {
				ul.verified[key] = good
			}
			ul.mu.Unlock()
		}
		return u.Groups, good
	}
	return nil, false
}

// Userlist returns the named userlist, or nil.
func (c *Config) Userlist(name string) *Userlist {
	for _, ul := range c.Userlists {
		if ul.Name == name {
			return ul
		}
	}
	return nil
}

// startUserlist opens a "userlist NAME" section.
func (p *parser) startUserlist(args []string) {
	p.section, p.cur, p.userlist = "userlist", nil, nil
	if len(args) != 1 {
		p.errorf("userlist", ErrBadValue, "'userlist' expects <name>")
		return
	}
	if err := checkName(args[0]); err != nil {
		p.errorf("userlist", ErrBadValue, "'userlist %s': %v", args[0], err)
		return
	}
	if prev := p.cfg.Userlist(args[0]); prev != nil {
		p.errorf("userlist", ErrReference, "userlist '%s' has the same name as the one declared at %s", args[0], prev.Pos)
		return
	}
	p.userlist = &Userlist{Pos: p.pos, Name: args[0]}
	p.cfg.Userlists = append(p.cfg.Userlists, p.userlist)
}

// userlistLine reads a "user" or "group" line of the current userlist.
func (p *parser) userlistLine(words []string) {
	kw := words[0]
	ul := p.userlist
	if ul == nil {
		return // the section's own line failed
	}
	a := words[1:]
	switch kw {
	case "group":
		if len(a) != 1 && (len(a) != 3 || a[1] != "users") {
			p.errorf(kw, ErrBadValue, "'group' expects <name> [users <user>[,<user>...]]")
			return
		}
		if slices.Contains(ul.Groups, a[0]) {
			p.errorf(kw, ErrReference, "userlist '%s': group '%s' declared twice", ul.Name, a[0])
			return
		}
		ul.Groups = append(ul.Groups, a[0])
		if len(a) == 3 {
			p.pendingGroups = append(p.pendingGroups, pendingGroup{ul: ul, group: a[0], users: strings.Split(a[2], ","), pos: p.pos})
		}
	case "user":
		if len(a) < 3 {
			p.errorf(kw, ErrBadValue, "'user' expects <name> password|insecure-password <password> [groups <group>[,<group>...]]")
			return
		}
		u := &User{Pos: p.pos, Name: a[0], Password: a[2]}
		switch a[1] {
		case "password":
			if _, err := Crypt("", a[2]); err != nil {
				p.errorf(kw, ErrBadValue, "user '%s': %v", a[0], err)
				return
			}
		case "insecure-password":
			u.Insecure = true
		default:
			p.errorf(kw, ErrBadValue, "user '%s': expects 'password' or 'insecure-password', not '%s'", a[0], a[1])
			return
		}
		rest := a[3:]
		if len(rest) > 0 {
			if len(rest) != 2 || rest[0] != "groups" {
				p.errorf(kw, ErrBadValue, "user '%s': unexpected '%s' (expects 'groups <group>[,<group>...]')", a[0], strings.Join(rest, " "))
				return
			}
			u.Groups = strings.Split(rest[1], ",")
		}
		for _, prev := range ul.Users {
			if prev.Name == u.Name {
				p.errorf(kw, ErrReference, "userlist '%s': user '%s' declared twice (first at %s)", ul.Name, u.Name, prev.Pos)
				return
			}
		}
		ul.Users = append(ul.Users, u)
	default:
		p.errorf(kw, ErrUnknownKeyword, "unknown keyword '%s' in 'userlist' section", kw)
	}
}

// userlistRef is a userlist an http_auth fetch names, and where.
type userlistRef struct {
	name string
	pos  Pos
}

// noteUserlistRefs records the userlists a proxy line's http_auth and
// http_auth_group fetches name.
func (p *parser) noteUserlistRefs(words []string) {
	for _, w := range words {
		for _, f := range []string{"http_auth(", "http_auth_group("} {
			if rest, ok := strings.CutPrefix(w, f); ok {
				name, _, _ := strings.Cut(rest, ")")
				p.userlistRefs = append(p.userlistRefs, userlistRef{name: name, pos: p.pos})
			}
		}
	}
}

// pendingGroup is a "group G users U,..." line, resolved once the
// section's users are all known.
type pendingGroup struct {
	ul    *Userlist
	group string
	users []string
	pos   Pos
}

// finishUserlists checks the users' groups and puts each user in the
// groups that name it.
func (p *parser) finishUserlists() {
	for _, ul := range p.cfg.Userlists {
		for _, u := range ul.Users {
			for _, g := range u.Groups {
				if !slices.Contains(ul.Groups, g) {
					p.pos = u.Pos
					p.errorf("user", ErrReference, "userlist '%s': user '%s' is in group '%s', which is not declared", ul.Name, u.Name, g)
				}
			}
		}
	}
	for _, r := range p.userlistRefs {
		if p.cfg.Userlist(r.name) == nil {
			p.pos = r.pos
			p.errorf("http_auth", ErrReference, "unable to find userlist '%s'", r.name)
		}
	}
	for _, pg := range p.pendingGroups {
		for _, name := range pg.users {
			var user *User
			for _, u := range pg.ul.Users {
				if u.Name == name {
					user = u
				}
			}
			if user == nil {
				p.pos = pg.pos
				p.errorf("group", ErrReference, "userlist '%s': group '%s' names user '%s', which is not declared", pg.ul.Name, pg.group, name)
				continue
			}
			if !slices.Contains(user.Groups, pg.group) {
				user.Groups = append(user.Groups, pg.group)
			}
		}
	}
}

// Crypt hashes password as crypt(3) does with the method and salt of
// setting (a hash of that method, or just its "$id$salt" start): MD5
// ("$1$"), SHA-256 ("$5$") or SHA-512 ("$6$", with "rounds=N$" when
// set). It is what "password" lines of a userlist are checked with.
func Crypt(password, setting string) (string, error) {
	switch {
	case strings.HasPrefix(setting, "$1$"):
		salt := setting[3:]
		if i := strings.IndexByte(salt, '$'); i >= 0 {
			salt = salt[:i]
		}
		return md5Crypt(password, salt[:min(len(salt), 8)]), nil
	case strings.HasPrefix(setting, "$5$"), strings.HasPrefix(setting, "$6$"):
		rest := setting[3:]
		rounds, custom := 5000, false
		if r, ok := strings.CutPrefix(rest, "rounds="); ok {
			i := strings.IndexByte(r, '$')
			if i < 0 {
				return "", errors.New("malformed 'rounds=' in password hash")
			}
			n, err := strconv.Atoi(r[:i])
			if err != nil {
				return "", errors.New("malformed 'rounds=' in password hash")
			}
			rounds, custom, rest = min(max(n, 1000), 999999999), true, r[i+1:]
		}
		salt := rest
		if i := strings.IndexByte(salt, '$'); i >= 0 {
			salt = salt[:i]
		}
		salt = salt[:min(len(salt), 16)]
		if setting[1] == '5' {
			return shaCrypt("$5$", sha256.New, sha256Order[:], password, salt, rounds, custom), nil
		}
		return shaCrypt("$6$", sha512.New, sha512Order[:], password, salt, rounds, custom), nil
	}
	method, _, _ := strings.Cut(strings.TrimPrefix(setting, "$"), "$")
	return "", fmt.Errorf("unsupported password hash method '%s' (supported: $1$ MD5, $5$ SHA-256, $6$ SHA-512)", method)
}

const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// appendCrypt64 appends n characters encoding the 24-bit value of b2, b1
// and b0, lowest six bits first.
func appendCrypt64(dst []byte, b2, b1, b0 byte, n int) []byte {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for ; n > 0; n-- {
		dst = append(dst, cryptAlphabet[w&0x3f])
		w >>= 6
	}
	return dst
}

// repeatTo returns digest repeated to length n.
func repeatTo(digest []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out)+len(digest) <= n {
		out = append(out, digest...)
	}
	return append(out, digest[:n-len(out)]...)
}

// sha256Order and sha512Order are the digest bytes in the order the
// SHA-crypt output encodes them, three at a time (the last group is
// shorter).
var sha256Order = [...]byte{0, 10, 20, 21, 1, 11, 12, 22, 2, 3, 13, 23, 24, 4, 14, 15, 25, 5, 6, 16, 26, 27, 7, 17, 18, 28, 8, 9, 19, 29}

var sha512Order = [...]byte{0, 21, 42, 22, 43, 1, 44, 2, 23, 3, 24, 45, 25, 46, 4, 47, 5, 26, 6, 27, 48, 28, 49, 7, 50, 8, 29, 9, 30, 51, 31, 52, 10,
	53, 11, 32, 12, 33, 54, 34, 55, 13, 56, 14, 35, 15, 36, 57, 37, 58, 16, 59, 17, 38, 18, 39, 60, 40, 61, 19, 62, 20, 41}

// shaCrypt is the SHA-crypt scheme (the "$5$" and "$6$" methods of
// crypt(3)).
func shaCrypt(prefix string, newHash func() hash.Hash, order []byte, password, salt string, rounds int, custom bool) string {
	pw, s := []byte(password), []byte(salt)
	h := newHash()
	size := h.Size()
	alt := sumOf(h, pw, s, pw)

	h.Reset()
	h.Write(pw)
	h.Write(s)
	h.Write(repeatTo(alt, len(pw)))
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(alt)
		} else {
			h.Write(pw)
		}
	}
	a := h.Sum(nil)

	h.Reset()
	for range len(pw) {
		h.Write(pw)
	}
	p := repeatTo(h.Sum(nil), len(pw))

	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(s)
	}
	sp := repeatTo(h.Sum(nil), len(s))

	a = cryptRounds(h, a, p, sp, rounds)

	out := []byte(prefix)
	if custom {
		out = append(out, "rounds="+strconv.Itoa(rounds)+"$"...)
	}
	out = append(out, salt...)
	out = append(out, '$')
	for i := 0; i < len(order); i += 3 {
		out = appendCrypt64(out, a[order[i]], a[order[i+1]], a[order[i+2]], 4)
	}
	if size == sha256.Size {
		out = appendCrypt64(out, 0, a[31], a[30], 3)
	} else {
		out = appendCrypt64(out, 0, 0, a[63], 2)
	}
	return string(out)
}

// sumOf is the digest of parts, with h reset first.
func sumOf(h hash.Hash, parts ...[]byte) []byte {
	h.Reset()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// cryptRounds is the stretching loop MD5-crypt and SHA-crypt share: each
// round hashes the last digest with the password and salt in an order
// the round's number sets.
func cryptRounds(h hash.Hash, digest, pw, salt []byte, rounds int) []byte {
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(pw)
		} else {
			h.Write(digest)
		}
		if i%3 != 0 {
			h.Write(salt)
		}
		if i%7 != 0 {
			h.Write(pw)
		}
		if i&1 != 0 {
			h.Write(digest)
		} else {
			h.Write(pw)
		}
		digest = h.Sum(digest[:0])
	}
	return digest
}

// md5Crypt is the "$1$" method of crypt(3).
func md5Crypt(password, salt string) string {
	pw, s := []byte(password), []byte(salt)
	h := md5.New()
	alt := sumOf(h, pw, s, pw)

	h.Reset()
	h.Write(pw)
	h.Write([]byte("$1$"))
	h.Write(s)
	for n := len(pw); n > 0; n -= 16 {
		h.Write(alt[:min(n, 16)])
	}
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write(pw[:1])
		}
	}
	f := cryptRounds(h, h.Sum(nil), pw, s, 1000)
	out := []byte("$1$" + salt + "$")
	for _, g := range [...][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		out = appendCrypt64(out, f[g[0]], f[g[1]], f[g[2]], 4)
	}
	return string(appendCrypt64(out, 0, 0, f[11], 2))
}
