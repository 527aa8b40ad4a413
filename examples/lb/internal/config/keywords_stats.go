package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// StatsPage is a proxy's statistics page, as HAProxy's "stats" lines
// set it up: requests whose URI starts with URI are answered by the
// balancer with the statistics, in HTML or (";csv") in HAProxy's CSV.
type StatsPage struct {
	Pos
	// URI is the prefix the page answers under; "/haproxy?stats" by
	// default.
	URI string
	// Realm is the basic authentication realm; "HAProxy Statistics" by
	// default.
	Realm string
	// Users may read the page ("stats auth"); anyone may when empty.
	Users []StatsUser
	// Refresh asks the browser to reload the page this often; 0 for
	// never.
	Refresh time.Duration
	// HideVersion leaves the version out of the page; ShowLegends shows
	// the servers' addresses and cookies and the backends' algorithms.
	HideVersion, ShowLegends bool
	// ShowNode and ShowDesc show the node's name and description (Node
	// and Desc, or the global ones when empty).
	ShowNode, ShowDesc bool
	Node, Desc         string
	// Scope limits the page to these proxies; all when empty.
	Scope []string
	// Admin, when set, lets the clients it matches change the servers'
	// states from the page.
	Admin *acl.Cond
	// Rules are the "stats http-request" rules, run in order before
	// the page is served (in place of Users, which they exclude).
	Rules []StatsRule
}

// StatsUser is one "stats auth USER:PASSWORD".
type StatsUser struct {
	User, Password string
}

// DefaultStatsURI and DefaultStatsRealm are HAProxy's defaults for the
// statistics page.
const (
	DefaultStatsURI   = "/haproxy?stats"
	DefaultStatsRealm = "HAProxy Statistics"
)

// ownStats returns the proxy's statistics page, made (any "stats" line
// enables it) or copied from the defaults section before the first
// change, as HAProxy gives a proxy its own page settings then.
func (p *parser) ownStats(px *Proxy) *StatsPage {
	if !px.statsOwn {
		page := &StatsPage{Pos: p.pos, URI: DefaultStatsURI, Realm: DefaultStatsRealm}
		if old := px.HTTP.Stats; old != nil {
			*page = *old
			page.Users = append([]StatsUser(nil), old.Users...)
			page.Scope = append([]string(nil), old.Scope...)
		}
		px.HTTP.Stats, px.statsOwn = page, true
	}
	return px.HTTP.Stats
}

// parseStatsPage reads a proxy's "stats" lines.
func parseStatsPage(p *parser, px *Proxy, a []string) error {
	if len(a) == 0 {
		return errors.New("expects 'enable', 'uri', 'realm', 'auth', 'refresh', 'scope', 'admin', 'hide-version', 'show-legends', 'show-node' or 'show-desc'")
	}
	// As in HAProxy, words after the one argument are ignored:
	// "stats realm HAProxy Statistics" is the realm "HAProxy".
	one := func() (string, error) {
		if len(a) < 2 || a[1] == "" {
			return "", fmt.Errorf("'stats %s' expects one argument", a[0])
		}
		return a[1], nil
	}
	switch a[0] {
	case "socket", "timeout", "maxconn", "bind-process":
		return fmt.Errorf("%w: 'stats %s' belongs in the 'global' section", ErrMisplaced, a[0])
	case "show-modules":
		// The HTML page's extra modules' columns: lb's page has none,
		// and the CSV is the same either way.
		if len(a) != 1 {
			return errors.New("'stats show-modules' takes no argument")
		}
		p.ownStats(px)
	case "enable":
		if len(a) != 1 {
			return errors.New("'stats enable' takes no argument")
		}
		p.ownStats(px)
	case "uri":
		v, err := one()
		if err != nil {
			return err
		}
		p.ownStats(px).URI = v
	case "realm":
		v, err := one()
		if err != nil {
			return err
		}
		if len(p.ownStats(px).Rules) > 0 {
			return errStatsRulesAndAuth
		}
		p.ownStats(px).Realm = v
	case "auth":
		v, err := one()
		if err != nil {
			return err
		}
		user, pass, ok := strings.Cut(v, ":")
		if !ok || user == "" {
			return fmt.Errorf("'stats auth' expects <user>:<password>, not '%s'", v)
		}
		page := p.ownStats(px)
		if len(page.Rules) > 0 {
			return errStatsRulesAndAuth
		}
		page.Users = append(page.Users, StatsUser{User: user, Password: pass})
	case "refresh":
		v, err := one()
		if err != nil {
			return err
		}
		d, err := ParseTime(v)
		if err != nil {
			return fmt.Errorf("'stats refresh': %w", err)
		}
		p.ownStats(px).Refresh = d
	case "scope":
		v, err := one()
		if err != nil {
			return err
		}
		page := p.ownStats(px)
		page.Scope = append(page.Scope, v)
	case "hide-version", "show-legends":
		if len(a) != 1 {
			return fmt.Errorf("'stats %s' takes no argument", a[0])
		}
		page := p.ownStats(px)
		if a[0] == "hide-version" {
			page.HideVersion = true
		} else {
			page.ShowLegends = true
		}
	case "show-node", "show-desc":
		// As in HAProxy, the node is the first word, the description
		// every word, joined by single spaces.
		page := p.ownStats(px)
		arg := ""
		if len(a) >= 2 {
			arg = a[1]
			if a[0] == "show-desc" {
				arg = strings.Join(a[1:], " ")
			}
		}
		if a[0] == "show-node" {
			page.ShowNode, page.Node = true, arg
		} else {
			page.ShowDesc, page.Desc = true, arg
		}
	case "admin":
		if px.Kind == KindDefaults {
			return fmt.Errorf("%w: 'stats admin' is not allowed in a 'defaults' section", ErrMisplaced)
		}
		cond, rest, err := splitCond(px, a[1:])
		if err != nil {
			return err
		}
		if cond == nil || len(rest) != 0 {
			return errors.New("'stats admin' expects 'if <cond>' or 'unless <cond>'")
		}
		p.ownStats(px).Admin = cond
	case "http-request":
		return parseStatsRule(p, px, a[1:])
	default:
		return fmt.Errorf("%w: 'stats %s'", ErrUnknownKeyword, a[0])
	}
	return nil
}
