package config

import (
	"fmt"
	"os"
	"strings"
)

// splitLine cuts one configuration line into words the way HAProxy does:
// blanks separate words, '#' starts a comment, a backslash escapes a blank,
// a backslash, '#', a quote or (in double quotes) '$', and \xNN, \n, \r,
// \t name bytes; before anything else it stays; single quotes keep everything
// literally, and double quotes allow escapes and ${NAME} environment
// expansion. Quotes may touch other characters: a"b c"d is one word.
func splitLine(line string) ([]string, error) {
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
				v, adv, err := expandEnv(line[i:])
				if err != nil {
					return nil, err
				}
				cur.WriteString(v)
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

// expandEnv expands a ${NAME} reference starting at s[0] == '$' and
// reports how many bytes it used. A '$' not followed by '{' stays as is.
func expandEnv(s string) (string, int, error) {
	if len(s) < 2 || s[1] != '{' {
		return "$", 1, nil
	}
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", 0, fmt.Errorf("unterminated ${ in %q", s)
	}
	name := s[2:end]
	if name == "" {
		return "", 0, fmt.Errorf("empty variable name in ${}")
	}
	return os.Getenv(name), end + 1, nil
}

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
