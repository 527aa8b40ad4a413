package config

import (
	"errors"
	"strings"
	"testing"
)

// The expectations come from haproxy 2.6.12 -c on the same conditions.
func TestEvalCond(t *testing.T) {
	t.Setenv("LB_COND_SET", "x")
	for _, tc := range []struct {
		expr string
		want bool
		err  string // part of the error, "" when none
	}{
		{"", false, ""},
		{"1", true, ""},
		{"0", false, ""},
		{"-1", true, ""},
		{"0x10", true, ""},
		{"010", true, ""},
		{"00", false, ""},
		{"!0", true, ""},
		{"!!1", true, ""},
		{"! 0", true, ""},
		{"1 && 0", false, ""},
		{"1 || 0", true, ""},
		{"0 || 0 && 1", false, ""},
		{"1 || 0 && 0", true, ""},
		{"!(0 || 1) && 1", false, ""},
		{"(1)", true, ""},
		{"( 0 )", false, ""},
		{"defined(LB_COND_SET)", true, ""},
		{"defined(LB_COND_UNSET_ZZ)", false, ""},
		{"defined()", false, ""},
		{"defined", false, ""},
		{"!defined", true, ""},
		{"feature(OPENSSL)", true, ""},
		{"feature(LUA)", false, ""},
		{"feature(QUIC)", false, ""},
		{"feature(SSL)", false, ""},
		{"feature(NOPE)", false, ""},
		{"feature()", true, ""},
		{"streq(a b,a b)", true, ""},
		{"streq( a,a)", false, ""},
		{"streq(\"a,b\",\"a,b\")", true, ""},
		{"strneq(a,b)", true, ""},
		{"streq(,)", true, ""},
		{"version_atleast(2.6)", true, ""},
		{"version_atleast(2.6.12)", true, ""},
		{"version_atleast(2.6.13)", false, ""},
		{"version_atleast(2.6-dev1)", true, ""},
		{"version_atleast(3.1-dev8)", false, ""},
		{"version_atleast(abc)", true, ""},
		{"version_atleast()", true, ""},
		{"version_before(2.7)", true, ""},
		{"version_before(2.6.12)", false, ""},
		{"version_before()", false, ""},
		{"version_before(abc)", false, ""},
		{"version_atleast(2.6.12-1)", false, ""},
		{"!", false, "unparsable conditional expression '!'"},
		{"foo", false, "unparsable conditional expression 'foo'"},
		{"foo(1)", false, "unparsable conditional expression 'foo(1)'"},
		{"1 2", false, "unexpected character '2' at the end of conditional expression '1 2'"},
		{"1abc", false, "unexpected character 'a'"},
		{"0x", false, "unexpected character 'x'"},
		{"08", false, "unexpected character '8'"},
		{"1 & 1", false, "unexpected character '&'"},
		{"1 &&", false, "unparsable conditional expression '&&'"},
		{"(1", false, "expected ')' after conditional expression '(1'"},
		{"1 || foo", false, "unparsable conditional expression 'foo'"},
		{"defined (HOME)", false, "unexpected character '('"},
		{"defined(HOME", false, "expected ')' in argument 1 of predicate 'defined'"},
		{"streq(a)", false, "missing arguments (got 1/2)"},
		{"streq()", false, "missing arguments (got 1/2)"},
		{"!streq", false, "missing arguments (got 1/2)"},
		{"streq(a,b,c)", false, "expected ')' before ',c)'"},
		{strings.Repeat("(", 340) + "1" + strings.Repeat(")", 340), true, ""},
		{strings.Repeat("(", 341) + "1" + strings.Repeat(")", 341), false, "unparsable conditional sub-expression"},
	} {
		got, err := evalCond(tc.expr)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("evalCond(%q) = %v, %v; want %v", tc.expr, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("evalCond(%q) error %v; want %q", tc.expr, err, tc.err)
		}
	}
}

func TestCondBlocks(t *testing.T) {
	const tail = "defaults\n timeout client 1s\n timeout server 1s\n timeout connect 1s\n"
	for _, tc := range []struct {
		name, cfg string
		err       string // "" when accepted
		notices   []string
		warnings  int
	}{
		{"true-branch", ".if 1\n.notice a\n.else\n.notice b\n.endif\n", "", []string{"t:2: 'a'"}, 0},
		{"false-branch-unread", "global\n.if 0\n bogus keyword\n.endif\n", "", nil, 0},
		{"elif", ".if 0\n.notice a\n.elif 0\n.notice b\n.elif 1\n.notice c\n.elif 1\n.notice d\n.else\n.notice e\n.endif\n", "", []string{"t:6: 'c'"}, 0},
		{"else", ".if 0\n.notice a\n.else\n.notice e\n.endif\n", "", []string{"t:4: 'e'"}, 0},
		{"nested-in-false", ".if 0\n.if foo(\n.notice x\n.endif\n.else\n.notice y\n.endif\n", "", []string{"t:6: 'y'"}, 0},
		{"elif-after-taken-unevaluated", ".if 1\n.elif foo(\n.endif\n", "", nil, 0},
		{"elif-evaluated", ".if 0\n.elif foo(\n.endif\n", "t:2: bad value: unparsable conditional expression 'foo(' in '.elif' at position 1", nil, 0},
		{"quote-error-in-false", ".if 0\n bogus \"x\n.endif\n", "t:2", nil, 0},
		{"unterminated", ".if 1\n\n", "t:6: bad value: non-terminated '.if' block", nil, 0},
		{"lone-else", ".else\n", "lone '.else' with no matching '.if'", nil, 0},
		{"lone-elif", ".elif 1\n", "lone '.elif' with no matching '.if'", nil, 0},
		{"lone-endif", "global\n.endif\nbogus\n", "t:2: bad value: lone '.endif' with no matching '.if'", nil, 0},
		{"else-else", ".if 1\n.else\n.else\n.endif\n", "'.else' after '.else' is not permitted", nil, 0},
		{"elif-else", ".if 1\n.else\n.elif 1\n.endif\n", "'.elif' after '.else' is not permitted", nil, 0},
		{"endif-arg", ".if 1\n.endif extra\n", "Unexpected argument 'extra' for '.endif'", nil, 0},
		{"alert", "global\n.alert \"stop here\"\nbogus\n", "t:2: bad value: 'stop here'", nil, 0},
		{"alert-in-false", ".if 0\n.alert x\n.bogus\n.endif\n", "", nil, 0},
		{"unknown-directive", ".bogus\n", "unknown directive '.bogus'", nil, 0},
		{"message-args", ".notice a b\n", "Unexpected argument 'b' for '.notice'", nil, 0},
		{"warning", "global\n .warning \"w\"\n.diag d\n", "", nil, 1},
		{"nest-99", strings.Repeat(".if 1\n", 99) + strings.Repeat(".endif\n", 99), "", nil, 0},
		{"nest-100", strings.Repeat(".if 0\n", 100) + strings.Repeat(".endif\n", 100), "t:100: bad value: too many nested '.if', max is 100", nil, 0},
		{"env-in-cond", ".if \"${LB_COND_UNSET_ZZ}\"\n.notice a\n.endif\n.if streq(\"${LB_COND_V}\",yes)\n.notice b\n.endif\n", "", []string{"t:5: 'b'"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LB_COND_V", "yes")
			cfg, err := Parse(Source{Name: "t", Data: []byte(tc.cfg + tail)})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(cfg.Notices, "|") != strings.Join(tc.notices, "|") {
				t.Errorf("notices %q; want %q", cfg.Notices, tc.notices)
			}
			if len(cfg.Warnings) != tc.warnings {
				t.Errorf("warnings %q; want %d", cfg.Warnings, tc.warnings)
			}
		})
	}
}

// A stop (here the .alert) ends the parse: no later file is read.
func TestCondStopsLaterFiles(t *testing.T) {
	_, err := Parse(Source{Name: "a", Data: []byte(".alert x\n")}, Source{Name: "b", Data: []byte("bogus\n")})
	if err == nil || strings.Contains(err.Error(), "b:1") || !errors.Is(err, ErrBadValue) {
		t.Fatalf("error %v", err)
	}
}

func FuzzEvalCond(f *testing.F) {
	for _, s := range []string{"1", "!0 && (1 || 0)", "defined(HOME)", "streq(\"a\",b)", "version_atleast(2.6-dev1-x-3)", "feature()", "((1)", "0x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := evalCond(s)
		if err != nil && v {
			t.Fatalf("%q: true with error %v", s, err)
		}
		if err != nil {
			if ce, ok := err.(*condError); !ok || ce.pos < 0 || ce.pos > len(s) {
				t.Fatalf("%q: bad error %#v", s, err)
			}
		}
		// A negated parenthesized condition has the opposite value.
		if err == nil && s != "" && len(s) < 200 {
			w, err2 := evalCond("!(" + s + ")")
			if err2 == nil && w == v {
				t.Fatalf("%q: !(...) = %v too", s, w)
			}
		}
	})
}
