package config

import (
	"fmt"
	"strconv"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// parseConnArrayAction reads the tcp-request forms of sc-inc-gpc(IDX,SC)
// and sc-set-gpt(IDX,SC) [VALUE], at every stage as in haproxy: the
// element and counter as http-request reads them, sc-set-gpt's value an
// integer or a sample expression, 0 when none is given (haproxy reads the
// missing word as the integer 0, and a condition word as an expression).
// line is the rule's words, the condition included.
func parseConnArrayAction(rs *acl.Refs, r *ConnRule, args, line []string) error {
	tmp := HTTPRule{Action: r.Action}
	if err := parseArrayStickAction(&tmp); err != nil {
		return err
	}
	word := r.Action
	r.Action, r.Slot, r.Index = tmp.Action, tmp.Slot, tmp.Index
	if r.Action == "sc-inc-gpc" {
		if len(args) > 0 {
			return fmt.Errorf("'%s' only accepts 'if' or 'unless' (got '%s')", word, args[0])
		}
		return nil
	}
	condWord := ""
	for _, w := range line {
		if w == "if" || w == "unless" {
			condWord = w
			break
		}
	}
	switch {
	case len(args) == 0 && condWord != "":
		return fmt.Errorf("'%s': unknown fetch method '%s' (the value goes before the condition)", word, condWord)
	case len(args) == 0:
		args = []string{"0"}
	case len(args) > 1:
		return fmt.Errorf("'%s' only accepts 'if' or 'unless' (got '%s')", word, args[1])
	}
	if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
		if _, _, err := rs.CheckView().CompileFetch(args[0]); err != nil {
			return fmt.Errorf("'%s': %w", word, err)
		}
	}
	r.Key = args[0]
	return nil
}
