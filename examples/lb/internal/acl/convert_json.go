package acl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// json_query(PATH[,int]) reads one value out of a JSON document, as
// HAProxy's: PATH is "$" followed by ".KEY" and "[INDEX]" steps; a
// string gives its text, unescaped, true and false a boolean, a number
// an integer when it is one (a float keeps its shortest text), and with
// "int" an integer, truncated; an object, an array, null, a missing key
// or a document that does not parse gives no sample (HAProxy's reader
// stops at the value it looks for, so it may read one from a document
// whose end does not parse, where lb's finds none).
// jwt_header_query([PATH[,int]]) and jwt_payload_query([PATH[,int]])
// query a JSON Web Token's header and payload (base64url, unpadded), the
// whole decoded part without a path.

// jsonStep is one step of a JSON path: a key, or an index when key is
// unset.
type jsonStep struct {
	key   string
	index int
	isKey bool
}

// parseJSONPath reads "$.a.b[2].c".
func parseJSONPath(p string) ([]jsonStep, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("invalid JSON path '%s' (it starts with '$')", p)
	}
	var steps []jsonStep
	rest := p[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("invalid JSON path '%s': empty key", p)
			}
			steps = append(steps, jsonStep{key: rest[:end], isKey: true})
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("invalid JSON path '%s': missing ']'", p)
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 {
				// $['key'] and the like: HAProxy's parser finds nothing
				// with them; so does lb, at run time.
				steps = append(steps, jsonStep{index: -1})
			} else {
				steps = append(steps, jsonStep{index: n})
			}
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("invalid JSON path '%s' at '%s'", p, rest)
		}
	}
	return steps, nil
}

// jsonQuery finds the value the path names in doc.
func jsonQuery(doc []byte, steps []jsonStep, asInt bool) (Sample, bool) {
	raw := json.RawMessage(bytes.TrimSpace(doc))
	for _, st := range steps {
		if !json.Valid(raw) {
			return Sample{}, false
		}
		switch {
		case st.isKey && len(raw) > 0 && raw[0] == '{':
			var m map[string]json.RawMessage
			if json.Unmarshal(raw, &m) != nil {
				return Sample{}, false
			}
			x, ok := m[st.key]
			if !ok {
				return Sample{}, false
			}
			raw = x
		case !st.isKey && st.index >= 0 && len(raw) > 0 && raw[0] == '[':
			var a []json.RawMessage
			if json.Unmarshal(raw, &a) != nil || st.index >= len(a) {
				return Sample{}, false
			}
			raw = a[st.index]
		default:
			return Sample{}, false
		}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !json.Valid(raw) {
		return Sample{}, false
	}
	switch raw[0] {
	case '"':
		str, ok := unquoteJSON(raw[1 : len(raw)-1])
		if !ok {
			return Sample{}, false
		}
		if asInt {
			return Int(leadingInt(str)), true
		}
		return Str(str), true
	case 't':
		return Bool(true), true
	case 'f':
		return Bool(false), true
	case 'n', '{', '[':
		return Sample{}, false
	}
	x := json.Number(raw)
	if n, err := x.Int64(); err == nil {
		return Int(n), true
	}
	f, err := x.Float64()
	if err != nil {
		return Sample{}, false
	}
	if asInt {
		if f >= math.MaxInt64 || f <= math.MinInt64 || math.IsNaN(f) {
			return Sample{}, false
		}
		return Int(int64(f)), true
	}
	return Str(strconv.FormatFloat(f, 'g', -1, 64)), true
}

// unquoteJSON undoes a JSON string's escapes as HAProxy's JSON reader
// does: a \uXXXX below 0x100 is that one byte, above it its UTF-8
// encoding.
func unquoteJSON(b []byte) (string, bool) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), true
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(b) {
			return "", false
		}
		i++
		switch b[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(b) {
				return "", false
			}
			n, err := strconv.ParseUint(string(b[i+1:i+5]), 16, 16)
			if err != nil {
				return "", false
			}
			i += 4
			if n < 0x100 {
				out = append(out, byte(n))
			} else {
				out = utf8.AppendRune(out, rune(n))
			}
		default:
			out = append(out, b[i])
		}
	}
	return string(out), true
}

// jsonQueryArgs reads [PATH[,int]]; a path is required unless optional.
func jsonQueryArgs(a []string, optional bool) (steps []jsonStep, whole, asInt bool, err error) {
	if len(a) == 0 || a[0] == "" {
		if !optional {
			return nil, false, false, errors.New("expects a JSON path")
		}
		return nil, true, false, nil
	}
	if steps, err = parseJSONPath(a[0]); err != nil {
		return nil, false, false, err
	}
	if len(a) > 1 {
		switch a[1] {
		case "int":
			asInt = true
		case "":
		default:
			return nil, false, false, fmt.Errorf("output type '%s' (expects 'int')", a[1])
		}
	}
	if len(a) > 2 {
		return nil, false, false, errors.New("too many arguments (expects a JSON path and an output type)")
	}
	return steps, false, asInt, nil
}

// jwtPart decodes part i (0: header, 1: payload) of a token.
func jwtPart(tok string, i int) ([]byte, bool) {
	parts := strings.SplitN(tok, ".", 4)
	if len(parts) != 3 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	return b, err == nil
}

func init() {
	converters["json_query"] = converter{ArgRequired, TypeStr, func(a []string) (ConvFunc, error) {
		steps, _, asInt, err := jsonQueryArgs(a, false)
		if err != nil {
			return nil, err
		}
		return func(s Sample) (Sample, bool) { return jsonQuery([]byte(s.String()), steps, asInt) }, nil
	}}
	for name, part := range map[string]int{"jwt_header_query": 0, "jwt_payload_query": 1} {
		converters[name] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
			steps, whole, asInt, err := jsonQueryArgs(a, true)
			if err != nil {
				return nil, err
			}
			return func(s Sample) (Sample, bool) {
				doc, ok := jwtPart(s.String(), part)
				if !ok {
					return Sample{}, false
				}
				if whole {
					return Str(string(doc)), true
				}
				return jsonQuery(doc, steps, asInt)
			}, nil
		}}
	}
}
