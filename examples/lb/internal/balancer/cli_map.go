package balancer

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// The runtime API's map and ACL commands, as HAProxy 2.6 has them:
//
//	show map|acl [@VER] [FILE|#ID]      list the files, or one's entries
//	get map|acl FILE|#ID VALUE          how each user matches VALUE
//	add map [@VER] FILE|#ID KEY VALUE   add an entry (or a payload of them)
//	add acl [@VER] FILE|#ID PATTERN     add a pattern (or a payload of them)
//	set map FILE|#ID KEY|#ENTRY VALUE   change the value of entries
//	del map|acl FILE|#ID KEY|#ENTRY     delete entries
//	clear map|acl [@VER] FILE|#ID       delete a version's entries
//	prepare map|acl FILE|#ID            open a new version
//	commit map|acl @VER FILE|#ID        make that version the current one
//
// As in HAProxy 2.6, every access level may run them.

// mapCommand runs a map or acl command; it reports false for other
// commands. payload holds the lines after a "<<" that ended the line.
func (b *Balancer) mapCommand(w io.Writer, words []string, payload string) bool {
	if len(words) < 2 || (words[1] != "map" && words[1] != "acl") {
		return false
	}
	verb, what := words[0], words[1]
	switch verb {
	case "show", "get", "add", "set", "del", "clear", "prepare", "commit":
	default:
		return false
	}
	if verb == "set" && what == "acl" {
		return false
	}
	kind, noun := acl.RefMap, "map"
	if what == "acl" {
		kind, noun = acl.RefACL, "ACL"
	}
	say := func(s string) { _, _ = io.WriteString(w, s+"\n") }
	unknown := func() { say("Unknown " + noun + " identifier. Please use #<id> or <file>.") }
	args := words[2:]
	// An optional "@VER" comes first.
	var ver uint32
	hasVer := false
	if len(args) > 0 && strings.HasPrefix(args[0], "@") && verb != "get" && verb != "set" && verb != "del" && verb != "prepare" {
		n, err := strconv.ParseUint(args[0][1:], 10, 32)
		if err != nil {
			if verb == "commit" {
				say("Version number out of range.")
			} else {
				say("Malformed version number.")
			}
			return true
		}
		ver, hasVer, args = uint32(n), true, args[1:]
	}
	refs := b.cfg.Patterns
	if verb == "show" && len(args) == 0 {
		listRefs(w, refs.List(kind))
		return true
	}
	if len(args) == 0 {
		switch {
		case verb == "commit" && !hasVer:
			say("Missing version number.")
		case verb == "prepare":
			unknown()
		default:
			say(mapUsage(verb, what))
		}
		return true
	}
	lookKind := kind
	if verb == "add" || verb == "set" {
		// As haproxy: these find the file whatever reads it, and "add
		// acl" then refuses a map's.
		lookKind = acl.RefMap | acl.RefACL
	}
	ref := refs.Lookup(args[0], lookKind)
	if ref == nil {
		unknown()
		return true
	}
	if !hasVer {
		ver = ref.Current()
	}
	args = args[1:]
	switch verb {
	case "show":
		for _, e := range ref.Entries(ver) {
			if kind == acl.RefMap {
				fmt.Fprintf(w, "%#x %s %s\n", e.ID, e.Key, e.Value)
			} else {
				fmt.Fprintf(w, "%#x %s\n", e.ID, e.Key)
			}
		}
	case "get":
		if len(args) == 0 {
			say(mapUsage(verb, what))
			return true
		}
		for _, l := range ref.Describe(strings.Join(args, " ")) {
			say(l)
		}
	case "add":
		addEntries(w, ref, kind, hasVer, ver, args, payload)
	case "set":
		if len(args) < 2 {
			say(mapUsage(verb, what))
			return true
		}
		if err := ref.Set(args[0], args[1]); err != nil {
			reportRefErr(w, args[0], err, "key or pattern not found.", "entry not found.")
		}
	case "del":
		if len(args) == 0 {
			say(mapUsage(verb, what))
			return true
		}
		if err := ref.Delete(args[0]); err != nil {
			reportRefErr(w, args[0], err, "Key not found.", "Key not found.")
		}
	case "clear":
		ref.Clear(ver)
	case "prepare":
		fmt.Fprintf(w, "New version created: %d\n", ref.Prepare())
	case "commit":
		if !hasVer {
			say("Missing version number.")
			return true
		}
		if err := ref.Commit(ver); err != nil {
			if errors.Is(err, acl.ErrRefVersion) {
				say("Version number out of range.")
			} else {
				say(refErrText(err))
			}
		}
	}
	return true
}

// mapUsage is haproxy's answer to a map or acl command missing its
// parameters.
func mapUsage(verb, what string) string {
	noun := "map"
	if what == "acl" {
		noun = "ACL"
	}
	switch {
	case verb == "get":
		return "Missing " + noun + " identifier and/or key."
	case verb == "add" && what == "map":
		return "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload"
	case verb == "add":
		return "'add acl' expects two parameters: ACL identifier and pattern."
	case verb == "set":
		return "'set map' expects three parameters: map identifier, key and value."
	case verb == "del":
		return "This command expects two parameters: " + noun + " identifier and key."
	}
	return "Missing " + noun + " identifier."
}

// reportRefErr reports a failed set or del: a malformed "#ID", no such
// entry (byID or byKey's text), or a value a user refused.
func reportRefErr(w io.Writer, target string, err error, byID, byKey string) {
	msg := refErrText(err)
	if errors.Is(err, acl.ErrRefNotFound) {
		msg = byKey
		if id, ok := strings.CutPrefix(target, "#0x"); ok {
			msg = byID
			if _, perr := strconv.ParseUint(id, 16, 64); perr != nil {
				msg = "Malformed identifier. Please use #<id> or <file>."
			}
		}
	}
	_, _ = io.WriteString(w, msg+"\n")
}

// addEntries runs "add map" and "add acl": one entry from the words, or
// one a line of the payload ("KEY VALUE" for a map, a pattern for an
// ACL). It stops at the first entry refused.
func addEntries(w io.Writer, ref *acl.Ref, kind int, hasVer bool, ver uint32, args []string, payload string) {
	say := func(s string) { _, _ = io.WriteString(w, s+"\n") }
	if kind == acl.RefACL && ref.TwoColumns() {
		say("This ACL is shared with a map containing samples. You must use the command 'add map' to add values.")
		return
	}
	if hasVer {
		if _, next, _ := ref.Versions(); int32(ver-next) > 0 {
			if kind == acl.RefMap {
				say("Version number in the future, please use 'prepare map' before.")
			} else {
				say("Version number in the future, please use 'prepare acl' before.")
			}
			return
		}
	}
	type kv struct{ k, v string }
	var add []kv
	switch {
	case payload != "" && kind == acl.RefMap:
		for _, line := range strings.Split(strings.TrimRight(payload, "\n"), "\n") {
			line = strings.TrimLeft(line, " \t")
			if !strings.ContainsAny(line, " \t") {
				say("Missing value for key '" + line + "'.")
				return
			}
			k, v := acl.SplitMapLine(line)
			add = append(add, kv{k, v})
		}
	case kind == acl.RefMap && len(args) >= 2:
		add = append(add, kv{args[0], args[1]})
	case kind == acl.RefACL && len(args) >= 1:
		add = append(add, kv{k: args[0]})
	case kind == acl.RefMap:
		say(mapUsage("add", "map"))
		return
	default:
		say(mapUsage("add", "acl"))
		return
	}
	for _, e := range add {
		if err := ref.Add(ver, e.k, e.v); err != nil {
			say(refErrText(err))
			return
		}
	}
}

// listRefs prints "show map" and "show acl" without a file: one line per
// file.
func listRefs(w io.Writer, refs []*acl.Ref) {
	_, _ = io.WriteString(w, "# id (file) description\n")
	for _, r := range refs {
		var by []string
		kind := r.Kind()
		if kind&acl.RefMap != 0 {
			by = append(by, "map")
		}
		if kind&acl.RefACL != 0 {
			by = append(by, "acl")
		}
		curr, next, n := r.Versions()
		fmt.Fprintf(w, "%d (%s) pattern loaded from file '%s' used by %s. curr_ver=%d next_ver=%d entry_cnt=%d\n",
			r.ID, r.Name, r.Name, strings.Join(by, " and "), curr, next, n)
	}
}

// refErrText is the answer to a change a file's user refused: a value
// it cannot read, as haproxy says it, or the user's reason.
func refErrText(err error) string {
	var ve *acl.ValueError
	if errors.As(err, &ve) {
		return "unable to parse '" + ve.Value + "'."
	}
	return upperFirst(err.Error()) + "."
}

// upperFirst capitalises an error's first letter for a CLI answer.
func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
