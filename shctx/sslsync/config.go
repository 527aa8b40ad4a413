package sslsync

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultWait is how long a handshake missing a session waits for a
	// peer's answer to Get.
	DefaultWait = 3 * time.Millisecond
	// DefaultWindow is how far a message's timestamp may be from the
	// receiver's clock, either way.
	DefaultWindow = 10 * time.Second
	// MinKeyLen is the shortest key accepted.
	MinKeyLen = 16
	// Keyword is the configuration keyword ParseArgs accepts in front of
	// its arguments.
	Keyword = "ssl-session-sync"
)

// ErrConfig means a configuration is incomplete or wrong.
var ErrConfig = errors.New("invalid ssl-session-sync configuration")

// Config says where a [Sync] listens and whom it tells.
type Config struct {
	// Bind is the local ADDR:PORT to receive on and send from. With
	// Multicast, bind the wildcard address (":PORT", "0.0.0.0:PORT" or
	// "[::]:PORT"): Linux delivers group traffic only to sockets bound
	// to the wildcard or to the group.
	Bind string
	// Peers are the ADDR:PORT of hosts sent every message.
	Peers []string
	// Multicast is a group, GROUP or GROUP:PORT (the port of Bind by
	// default), joined to receive and sent every message.
	Multicast string
	// Interface names the interface to join the group on and send to it
	// from; empty lets the system choose.
	Interface string
	// Key signs and checks every message; it is the same on every host.
	// When empty the key is read from KeyFile.
	Key []byte
	// KeyFile holds the key: the file's bytes, surrounding white space
	// removed (a line made by "openssl rand -base64 48" is fine), at
	// least MinKeyLen of them.
	KeyFile string
	// Wait bounds how long a lookup that misses locally waits for a
	// peer's answer to its Get; 0 means DefaultWait, negative means do
	// not wait (Get then only warms the cache for the next handshake).
	Wait time.Duration
	// Window is how far from the local clock a message's timestamp may
	// be; 0 means DefaultWindow. Messages outside it, and copies of
	// messages seen within it, are replays.
	Window time.Duration
	// Logger receives rare events; nil means slog.Default().
	Logger *slog.Logger
}

// ParseArgs reads the words of a configuration line:
//
//	ssl-session-sync bind ADDR:PORT [peer ADDR:PORT]... [multicast GROUP[:PORT]]
//	                 [interface NAME] [wait TIME] [window TIME] key-file FILE
//
// The leading keyword is optional. TIME is a number of milliseconds or a
// number with a unit (us, ms, s, m, h), as HAProxy writes times; "wait 0"
// turns waiting for answers off. The key file is read by [Start], not
// here.
func ParseArgs(words []string) (Config, error) {
	var cfg Config
	if len(words) > 0 && words[0] == Keyword {
		words = words[1:]
	}
	seen := map[string]bool{}
	for i := 0; i < len(words); i += 2 {
		w := words[i]
		if i+1 >= len(words) {
			return cfg, cfgErr("%q needs a value", w)
		}
		v := words[i+1]
		if w != "peer" && seen[w] {
			return cfg, cfgErr("%q given twice", w)
		}
		seen[w] = true
		switch w {
		case "bind":
			// Port 0 (any free port) is allowed for tests and examples.
			if err := checkHostPort(w, v, 0); err != nil {
				return cfg, err
			}
			cfg.Bind = v
		case "peer":
			if err := checkHostPort(w, v, 1); err != nil {
				return cfg, err
			}
			cfg.Peers = append(cfg.Peers, v)
		case "multicast":
			if _, err := groupAddr(v, 1); err != nil {
				return cfg, err
			}
			cfg.Multicast = v
		case "interface":
			cfg.Interface = v
		case "key-file":
			cfg.KeyFile = v
		case "wait":
			d, err := parseTime(w, v)
			if err != nil {
				return cfg, err
			}
			if d == 0 {
				d = -1
			}
			cfg.Wait = d
		case "window":
			d, err := parseTime(w, v)
			if err != nil {
				return cfg, err
			}
			if d < time.Second {
				return cfg, cfgErr("window %s: want at least 1s, timestamps count seconds", v)
			}
			cfg.Window = d
		default:
			return cfg, cfgErr("unknown word %q (expected bind, peer, multicast, interface, wait, window or key-file)", w)
		}
	}
	return cfg, cfg.check()
}

func (cfg *Config) check() error {
	if cfg.Bind == "" {
		return cfgErr("missing 'bind ADDR:PORT'")
	}
	if len(cfg.Peers) == 0 && cfg.Multicast == "" {
		return cfgErr("no 'peer ADDR:PORT' nor 'multicast GROUP': nobody to share sessions with")
	}
	if len(cfg.Key) == 0 && cfg.KeyFile == "" {
		return cfgErr("missing 'key-file FILE': messages must be signed")
	}
	return nil
}

func cfgErr(format string, args ...any) error {
	return fmt.Errorf("%s: "+format+": %w", append([]any{Keyword}, append(args, ErrConfig)...)...)
}

func checkHostPort(word, v string, minPort int) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return cfgErr("%s %q: want ADDR:PORT (%v)", word, v, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < minPort || p > 65535 {
		return cfgErr("%s %q: port %q is not a number from %d to 65535", word, v, port, minPort)
	}
	return nil
}

// groupAddr parses GROUP or GROUP:PORT, defaulting the port.
func groupAddr(v string, defPort int) (*net.UDPAddr, error) {
	host, port := v, strconv.Itoa(defPort)
	if h, p, err := net.SplitHostPort(v); err == nil {
		host, port = h, p
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil || !ip.IsMulticast() {
		return nil, cfgErr("multicast %q: %q is not a multicast address", v, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return nil, cfgErr("multicast %q: port %q is not a number from 1 to 65535", v, port)
	}
	return &net.UDPAddr{IP: ip, Port: p}, nil
}

// parseTime reads HAProxy's time format: milliseconds by default.
func parseTime(word, v string) (time.Duration, error) {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, cfgErr("%s %q: want a time such as 5ms or 2s", word, v)
	}
	return d, nil
}

// LoadKey reads a key file as [Config.KeyFile] describes.
func LoadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: key-file: %w", Keyword, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinKeyLen {
		return nil, fmt.Errorf("%s: key-file %s: %d bytes, want at least %d: %w", Keyword, path, len(b), MinKeyLen, ErrConfig)
	}
	return b, nil
}
