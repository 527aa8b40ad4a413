package config

import (
	"errors"
	"fmt"
	"path/filepath"
)

// "default-path" in the global section sets what the relative file paths
// of the lines after it are relative to, as in HAProxy: the working
// directory (current, the default), the directory of the file being
// read (config) or its parent (parent), each file's own as it is read,
// or a directory (origin, itself relative to the base in effect). As in
// HAProxy, it applies to the files read while the configuration is:
// errorfile (in proxies and http-errors sections), the file of a return
// or deny rule, ssl-dh-param-file, lua-load, the TLS files of bind lines
// (crt, crt-list, ca-file, ca-verify-file, tls-ticket-keys) and a
// server's ca-file, ACL pattern files and the map files of rules, and
// SPOE configuration files; not to what HAProxy reads once the
// configuration is read (a server's crt, the maps of use_backend names
// and log-formats, UNIX sockets, pidfile, server-state-file).

func init() {
	globalKeywords["default-path"] = func(p *parser, a []string) error {
		if len(a) == 0 {
			return errors.New("expects a mode among 'current', 'config', 'parent', and 'origin'")
		}
		switch a[0] {
		case "current", "config", "parent":
			p.defaultPath, p.origin = a[0], ""
		case "origin":
			if len(a) < 2 || a[1] == "" {
				return errors.New("'default-path origin' expects a directory as an argument")
			}
			p.defaultPath, p.origin = a[0], inDir(p.baseDir, a[1])
		default:
			return fmt.Errorf("unsupported default-path mode '%s' for 'default-path', supported modes include 'current', 'config', 'parent', and 'origin'", a[0])
		}
		p.setBaseDir(p.defaultDir())
		return nil
	}
}

// setBaseDir makes dir what the relative file names of the next lines are
// read from, pattern and map files included.
func (p *parser) setBaseDir(dir string) {
	p.baseDir = dir
	p.cfg.Patterns.SetDir(dir)
}

// defaultDir is the base directory default-path gives the file being
// read.
func (p *parser) defaultDir() string {
	switch p.defaultPath {
	case "config":
		return filepath.Dir(p.file)
	case "parent":
		return filepath.Join(filepath.Dir(p.file), "..")
	case "origin":
		return p.origin
	}
	return ""
}

// inDir is name, relative to base when it is relative and base is set.
func inDir(base, name string) string {
	if base == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(base, name)
}
