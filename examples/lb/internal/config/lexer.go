package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// lineCtx is where a line sits, for the pseudo-variables $.FILE,
// $.LINE and $.SECTION.
type lineCtx struct {
	file    string
	line    int
	section string
}

// splitLine cuts one configuration line into words the way HAProxy does:
// blanks separate words, '#' starts a comment, a backslash escapes a blank,
// a backslash, '#', a quote or (in double quotes) '$', and \xNN, \n, \r,
// \t name bytes; before anything else it stays; single quotes keep everything
// literally, and double quotes allow escapes and environment variables
// (see expandVar). Quotes may touch other characters: a"b c"d is one word.
// An empty word ("" or a quoted variable with no value) ends the line, as
// in HAProxy, whose keywords read their arguments up to the first empty
// one: the words from there on are dropped.
func splitLine(line string, ctx lineCtx) ([]string, error) {
	words, err := splitWords(line, ctx)
	for i, w := range words {
		if w == "" {
			return words[:i], err
		}
	}
	return words, err
}

// splitWords cuts a line into words as splitLine does, empty ones kept.
func splitWords(line string, ctx lineCtx) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   byte // 0, '\'' or '"'
		i       int
		unended = func(q byte) error { return fmt.Errorf("unmatched quote %c", q) }
	)
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i = 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
				continue
			}
			cur.WriteByte(c)
		case c == '\\':
			if i+1 >= len(line) {
				return nil, fmt.Errorf("backslash at end of line")
			}
			n, adv, err := unescape(line[i+1:], quote == '"')
			if err != nil {
				return nil, err
			}
			cur.WriteString(n)
			inWord = true
			i += adv
		case quote == '"':
			switch c {
			case '"':
				quote = 0
			case '$':
				v, split, adv, err := expandVar(line[i:], ctx)
				if err != nil {
					return nil, fmt.Errorf("%w at position %d", err, i+1)
				}
				if split {
					// ${NAME[*]}: each word of the value is a word of
					// the line.
					for j, w := range strings.Fields(v) {
						if j > 0 {
							words = append(words, cur.String())
							cur.Reset()
						}
						cur.WriteString(w)
					}
				} else {
					cur.WriteString(v)
				}
				i += adv - 1
			default:
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case c == '#':
			flush()
			return words, nil
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			flush()
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, unended(quote)
	}
	flush()
	return words, nil
}

// unescape decodes the escape whose body starts at s (just after the
// backslash) and reports how many bytes of s it used. As in HAProxy, only
// \<space>, \\, \t, \n, \r, \#, \', \", \xNN and (within double quotes)
// \$ are escapes; any other backslash stays, with the character after it
// read as usual, so that a regex replacement's \1 reaches the rule.
func unescape(s string, dquote bool) (string, int, error) {
	switch s[0] {
	case ' ', '\\', '#', '\'', '"':
		return s[:1], 1, nil
	case '$':
		if dquote {
			return "$", 1, nil
		}
		return "\\", 0, nil
	case 'n':
		return "\n", 1, nil
	case 'r':
		return "\r", 1, nil
	case 't':
		return "\t", 1, nil
	case 'x':
		if len(s) < 3 || !isHex(s[1]) || !isHex(s[2]) {
			return "", 0, fmt.Errorf("bad escape \\x: two hex digits expected")
		}
		return string([]byte{hexVal(s[1])<<4 | hexVal(s[2])}), 3, nil
	default:
		return "\\", 0, nil
	}
}

// expandEnv expands a reference at s[0] == '$' in an address, as
// HAProxy's env_expand does: $NAME or ${NAME}, NAME made of letters,
// digits and '_'; an unset variable is empty. It reports how many bytes
// it used.
func expandEnv(s string) (string, int) {
	i := 1
	brace := i < len(s) && s[i] == '{'
	if brace {
		i++
	}
	start := i
	for i < len(s) && isNameByte(s[i]) {
		i++
	}
	v := os.Getenv(s[start:i])
	if brace && i < len(s) && s[i] == '}' {
		i++
	}
	return v, i
}

// expandVar expands a variable at s[0] == '$' within double quotes, as
// HAProxy's line parser does: $NAME or ${NAME}, where NAME starts with a
// letter or '_' and goes on with letters, digits and '_'; the
// pseudo-variables $.FILE, $.LINE and $.SECTION; ${NAME-DEFAULT}, with
// DEFAULT when NAME is unset (otherwise an unset variable is empty); and
// ${NAME[*]}, whose value split reports is to be cut into words. It
// reports how many bytes it used.
func expandVar(s string, ctx lineCtx) (v string, split bool, n int, err error) {
	i := 1
	brace := i < len(s) && s[i] == '{'
	if brace {
		i++
	}
	if i >= len(s) || !(isAlpha(s[i]) || s[i] == '_' || s[i] == '.') {
		return "", false, 0, errors.New("forbidden first char in environment variable name")
	}
	start := i
	if s[i] == '.' {
		i++
	}
	for i < len(s) && isNameByte(s[i]) {
		i++
	}
	name := s[start:i]
	var set bool
	switch {
	case name == ".FILE":
		v, set = ctx.file, true
	case name == ".LINE":
		v, set = strconv.Itoa(ctx.line), true
	case name == ".SECTION":
		v, set = ctx.section, true
	case strings.HasPrefix(name, "."):
		return "", false, 0, fmt.Errorf("unknown pseudo-variable '$%s' (.FILE, .LINE, .SECTION)", name)
	default:
		v, set = os.LookupEnv(name)
	}
	if !brace {
		return v, false, i, nil
	}
	if strings.HasPrefix(s[i:], "[") {
		if !strings.HasPrefix(s[i:], "[*]") {
			return "", false, 0, errors.New("truncated or invalid word expansion sequence")
		}
		split = true
		i += 3
	}
	if i < len(s) && s[i] == '-' {
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", false, 0, errors.New("unmatched brace in environment variable name")
		}
		if !set {
			v = s[i+1 : i+end]
		}
		return v, split, i + end + 1, nil
	}
	if i >= len(s) || s[i] != '}' {
		return "", false, 0, errors.New("unmatched brace in environment variable name")
	}
	return v, split, i + 1, nil
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isNameByte(c byte) bool { return isAlpha(c) || (c >= '0' && c <= '9') || c == '_' }

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
