package config

import (
	"fmt"
	"strings"
	"sync"
)

// HAProxy 2.6 reads a time whose unit is followed by more characters
// ("15min" as 15m, "10sec" as 10s) and only warns of it. ParseTime does
// the same wherever a time is read (timeouts, server and bind options,
// rules, stick tables, global keywords), many of which see neither the
// parser nor the line: it notes the warning in the sink of the line
// being parsed, which the parser then reports at that line.

// timeSink is where ParseTime notes its warnings: the notes of the line
// a parser is reading, nil outside a parse. lineMu keeps one line of one
// parse at a time, so that concurrent parses each get their own notes.
var (
	lineMu   sync.Mutex
	sinkMu   sync.Mutex
	timeSink *[]string
)

// noteTime records a warning of ParseTime for the line being parsed.
func noteTime(msg string) {
	sinkMu.Lock()
	defer sinkMu.Unlock()
	if timeSink != nil {
		*timeSink = append(*timeSink, msg)
	}
}

// parseLineNoting parses one line and reports, at that line, the
// warnings ParseTime noted while it was read.
func (p *parser) parseLineNoting(words []string) {
	var notes []string
	lineMu.Lock()
	sinkMu.Lock()
	timeSink = &notes
	sinkMu.Unlock()
	defer func() {
		sinkMu.Lock()
		timeSink = nil
		sinkMu.Unlock()
		lineMu.Unlock()
		for _, n := range notes {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: %s", p.pos, n))
		}
	}()
	p.words = words
	p.parseLine(words)
}

// timeUnit returns the unit a time's text starts with after its digits
// (rest), as HAProxy reads it: "us", "ms", or one of s, m, h, d; "" when
// rest is empty, and rest itself when it starts with no unit.
func timeUnit(rest string) string {
	switch {
	case rest == "":
		return ""
	case strings.HasPrefix(rest, "us"), strings.HasPrefix(rest, "ms"):
		return rest[:2]
	case strings.IndexByte("smhd", rest[0]) >= 0:
		return rest[:1]
	}
	return rest
}

// tableTimes returns a stick-table line's words with its expire time
// read as ParseTime reads it (and warns of): the stick package takes
// only a bare unit.
func tableTimes(a []string) []string {
	out := a
	for i := 0; i+1 < len(a); i++ {
		if a[i] != "expire" {
			continue
		}
		v := a[i+1]
		j := 0
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		if unit := timeUnit(v[j:]); j > 0 && unit != v[j:] && len(unit) < len(v[j:]) {
			if _, err := ParseTime(v); err == nil {
				out = append([]string(nil), a...)
				out[i+1] = v[:j+len(unit)]
			}
		}
	}
	return out
}
