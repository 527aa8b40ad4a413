package config

import (
	"errors"
	"fmt"
	"strconv"
)

func init() {
	capture := func(deprecated bool) func(p *parser, a []string) error {
		return func(p *parser, a []string) error {
			if len(a) != 1 {
				return errors.New("expects a size in bytes")
			}
			n, err := strconv.Atoi(a[0])
			if err != nil || n < 0 {
				return fmt.Errorf("expects a positive numeric value, not '%s'", a[0])
			}
			if deprecated {
				p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: 'tune.ssl.capture-cipherlist-size' is deprecated and will be removed in version 2.7. Please use 'tune.ssl.capture-buffer-size' instead.", p.pos))
			}
			p.cfg.Global.SSLCaptureSize = n
			return nil
		}
	}
	globalKeywords["tune.ssl.capture-buffer-size"] = capture(false)
	globalKeywords["tune.ssl.capture-cipherlist-size"] = capture(true)
}
