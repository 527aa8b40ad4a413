package balancer

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"html"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// The statistics page ("stats enable", "stats uri"): a GET, HEAD or POST
// whose URI starts with the page's prefix is answered by the balancer,
// after the http-request rules of the proxy that has the page, as
// HAProxy's stats applet does. ";csv" in the URI asks for the CSV of
// "show stat", ";up" and ";no-maint" filter the servers, ";norefresh"
// drops the refresh; with "stats admin", a POST from the page's form
// puts servers in maintenance, in drain or back to ready.

// statsPageMaxBody bounds the admin form a POST may carry.
const statsPageMaxBody = 16 << 10

// statsPage answers the request with px's statistics page when it asks
// for it; it reports whether it did.
func (ex *exchange) statsPage(px *config.Proxy) bool {
	page := px.HTTP.Stats
	if page == nil || px.Mode != "http" {
		return false
	}
	req := ex.req
	post := req.MethodIs("POST")
	if !req.MethodIs("GET") && !req.MethodIs("HEAD") && !post {
		return false
	}
	uri := req.Path()
	if !bytes.HasPrefix(uri, []byte(page.URI)) {
		return false
	}
	l := &ex.log
	fe := ex.hf.s.fe
	fe.st.intercept.Add(1)
	l.backend, l.server = px.Name, "<STATS>"
	l.term = [2]byte{'L', 'R'}
	l.twSet, l.tcSet = true, true
	if ex.statsRulesStop(page) {
		return true
	}
	if !statsAuthorized(page, req) {
		ex.answer(ex.basicAuthAnswer(`Basic realm="` + page.Realm + `"`))
		return true
	}
	l.trSet = true
	rest := string(uri[len(page.URI):])
	admin := page.Admin != nil && page.Admin.Eval(ex)
	if post {
		st := "DENY"
		if admin {
			st = ex.hf.s.b.statsAdmin(ex.readForm())
		}
		ex.answer(newAnswer(303, "text/plain", nil, [][2]string{
			{"cache-control", "no-cache"},
			{"location", page.URI + ";st=" + st},
		}))
		return true
	}
	o := allStats()
	o.legends = page.ShowLegends
	o.up = strings.Contains(rest, ";up")
	o.noMaint = strings.Contains(rest, ";no-maint")
	o.scope = page.Scope
	b := ex.hf.s.b
	hdrs := [][2]string{{"cache-control", "no-cache"}}
	if strings.Contains(rest, ";csv") {
		var buf bytes.Buffer
		b.writeStats(&buf, o)
		ex.answer(newAnswer(200, "text/plain", buf.Bytes(), hdrs))
		return true
	}
	if page.Refresh > 0 && !strings.Contains(rest, ";norefresh") {
		hdrs = append(hdrs, [2]string{"refresh", strconv.FormatInt(int64(page.Refresh/time.Second), 10)})
	}
	var buf bytes.Buffer
	b.writeStatsHTML(&buf, page, o, admin, rest)
	ex.answer(newAnswer(200, "text/html", buf.Bytes(), hdrs))
	return true
}

// statsAuthorized reports whether the request carries the credentials of
// one of the page's users, or the page has none.
func statsAuthorized(page *config.StatsPage, req *htx.Message) bool {
	if len(page.Users) == 0 {
		return true
	}
	user, pass, ok := acl.BasicAuth(req)
	if !ok {
		return false
	}
	for _, u := range page.Users {
		if subtle.ConstantTimeCompare([]byte(u.User), []byte(user)) == 1 &&
			subtle.ConstantTimeCompare([]byte(u.Password), []byte(pass)) == 1 {
			return true
		}
	}
	return false
}

// readForm reads the request body of the page's admin form, up to
// statsPageMaxBody; a larger or broken one reads as empty.
func (ex *exchange) readForm() url.Values {
	body, err := io.ReadAll(io.LimitReader(ex.fst, statsPageMaxBody+1))
	if err != nil || len(body) > statsPageMaxBody {
		return nil
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil
	}
	return v
}

// statsAdmin applies the page's admin form: "b" names the backend ("#"
// and its id, or its name), each "s" a server, "action" what to do. It
// returns the outcome as the page's ";st=" reports it: DONE, PART (some
// servers changed), NONE (nothing to do), ERRP (bad parameters: an
// unknown action, backend or server).
func (b *Balancer) statsAdmin(form url.Values) string {
	state := map[string]string{"ready": StateReady, "drain": StateDrain, "maint": StateMaint}[form.Get("action")]
	be := b.backendByRef(form.Get("b"))
	servers := form["s"]
	switch {
	case state == "" || be == nil:
		return "ERRP"
	case len(servers) == 0:
		return "NONE"
	}
	done, unknown := 0, 0
	for _, name := range servers {
		s := be.Server(name)
		if s == nil {
			unknown++
			continue
		}
		if s.SetState(state) == nil {
			done++
		}
	}
	switch {
	case done == len(servers):
		return "DONE"
	case done > 0:
		return "PART"
	case unknown > 0:
		return "ERRP"
	}
	return "NONE"
}

// backendByRef finds a backend by "#<id>" or by name.
func (b *Balancer) backendByRef(ref string) *Backend {
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		n, err := strconv.Atoi(id)
		if err != nil {
			return nil
		}
		for px, pid := range proxyIDs(b.cfg) {
			if pid == n && b.backends[px.Name] != nil && b.backends[px.Name].cfg == px {
				return b.backends[px.Name]
			}
		}
		return nil
	}
	return b.backends[ref]
}

// statsHTMLColumns are the page's columns: a group title and, under it,
// the CSV columns shown, with their headings.
var statsHTMLColumns = []struct {
	group string
	cols  [][2]string
}{
	{"Queue", [][2]string{{"qcur", "Cur"}, {"qmax", "Max"}, {"qlimit", "Limit"}}},
	{"Session rate", [][2]string{{"rate", "Cur"}, {"rate_max", "Max"}, {"rate_lim", "Limit"}}},
	{"Sessions", [][2]string{{"scur", "Cur"}, {"smax", "Max"}, {"slim", "Limit"}, {"stot", "Total"}, {"lbtot", "LbTot"}, {"lastsess", "Last"}}},
	{"Bytes", [][2]string{{"bin", "In"}, {"bout", "Out"}}},
	{"Denied", [][2]string{{"dreq", "Req"}, {"dresp", "Resp"}}},
	{"Errors", [][2]string{{"ereq", "Req"}, {"econ", "Conn"}, {"eresp", "Resp"}}},
	{"Warnings", [][2]string{{"wretr", "Retr"}, {"wredis", "Redis"}}},
	{"Server", [][2]string{{"status", "Status"}, {"check_status", "LastChk"}, {"weight", "Wght"}, {"act", "Act"}, {"bck", "Bck"}, {"chkfail", "Chk"}, {"chkdown", "Dwn"}, {"downtime", "Dwntme"}}},
}

// writeStatsHTML writes the page: the process's figures, then a table
// per proxy with its frontend, servers and backend, from the same rows
// as the CSV.
func (b *Balancer) writeStatsHTML(w *bytes.Buffer, page *config.StatsPage, o statOptions, admin bool, rest string) {
	esc := html.EscapeString
	title := "Statistics Report for lb"
	if page.ShowNode {
		title += " on " + b.nodeName(page.Node)
	}
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>%s</title>\n<meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\">\n", esc(title))
	w.WriteString(`<style>
body{font-family:arial,helvetica,sans-serif;font-size:12px;background:#fff;color:#000}
table{border-collapse:collapse;margin-bottom:1em}
th,td{border:1px solid #999;padding:1px 4px;text-align:right}
th{background:#20a0ff;color:#fff}
td.name{text-align:left;font-weight:bold}
tr.up td{background:#c0ffc0}
tr.down td{background:#ff9090}
tr.maint td{background:#c07820}
tr.drain td{background:#b0d0ff}
tr.total td{background:#e8e8d0}
caption{text-align:left;font-weight:bold;font-size:14px}
</style></head><body>
`)
	fmt.Fprintf(w, "<h1>%s</h1>\n", esc(title))
	if !page.HideVersion {
		fmt.Fprintf(w, "<p>lb version %s</p>\n", esc(Version))
	}
	if page.ShowDesc {
		desc := page.Desc
		if desc == "" {
			desc = b.cfg.Global.Description
		}
		fmt.Fprintf(w, "<p>%s</p>\n", esc(desc))
	}
	if st := statusParam(rest); st != "" {
		fmt.Fprintf(w, "<p class=\"result\">Action: %s</p>\n", esc(st))
	}
	uptime := int64(time.Since(b.started) / time.Second)
	fmt.Fprintf(w, "<p>pid = %d (process #1, nbproc = 1, nbthread = %d)<br>uptime = %s<br>system limits: maxconn = %d<br>current conns = %d</p>\n",
		os.Getpid(), max(b.cfg.Global.NbThread, 1), formatUptime(uptime), b.cfg.Global.MaxConn, b.actconn.Load())
	rows := b.statRows(o)
	for i := 0; i < len(rows); {
		px := rows[i][statIndex["pxname"]]
		j := i
		for j < len(rows) && rows[j][statIndex["pxname"]] == px {
			j++
		}
		b.writeProxyTable(w, page, rows[i:j], admin)
		i = j
	}
	w.WriteString("</body></html>\n")
}

// statusParam is the outcome an admin form's redirect carries (";st=").
func statusParam(rest string) string {
	_, st, ok := strings.Cut(rest, ";st=")
	if !ok {
		return ""
	}
	st, _, _ = strings.Cut(st, ";")
	switch st {
	case "DONE":
		return "processed successfully"
	case "PART":
		return "partially processed"
	case "NONE":
		return "nothing to do"
	case "ERRP":
		return "invalid parameters"
	case "DENY":
		return "denied: the page does not allow administration from this client"
	}
	return ""
}

func (b *Balancer) writeProxyTable(w *bytes.Buffer, page *config.StatsPage, rows []statRow, admin bool) {
	esc := html.EscapeString
	px := rows[0][statIndex["pxname"]]
	hasServers := false
	for _, r := range rows {
		if r[statIndex["type"]] == strconv.Itoa(statServer) {
			hasServers = true
		}
	}
	form := admin && hasServers
	if form {
		fmt.Fprintf(w, "<form method=\"post\" action=\"%s\">\n", esc(page.URI))
	}
	fmt.Fprintf(w, "<table><caption><a name=\"%s\"></a>%s</caption>\n<tr>", esc(px), esc(px))
	if form {
		w.WriteString("<th rowspan=2></th>")
	}
	w.WriteString("<th rowspan=2></th>")
	for _, g := range statsHTMLColumns {
		fmt.Fprintf(w, "<th colspan=%d>%s</th>", len(g.cols), g.group)
	}
	w.WriteString("</tr>\n<tr>")
	for _, g := range statsHTMLColumns {
		for _, c := range g.cols {
			fmt.Fprintf(w, "<th>%s</th>", c[1])
		}
	}
	w.WriteString("</tr>\n")
	for _, r := range rows {
		name := r[statIndex["svname"]]
		class := "total"
		if r[statIndex["type"]] == strconv.Itoa(statServer) {
			switch status := r[statIndex["status"]]; {
			case strings.HasPrefix(status, "MAINT"):
				class = "maint"
			case strings.HasPrefix(status, "DRAIN"):
				class = "drain"
			case strings.HasPrefix(status, "DOWN"):
				class = "down"
			default:
				class = "up"
			}
		}
		fmt.Fprintf(w, "<tr class=\"%s\">", class)
		if form {
			if class != "total" {
				fmt.Fprintf(w, "<td><input type=\"checkbox\" name=\"s\" value=\"%s\"></td>", esc(name))
			} else {
				w.WriteString("<td></td>")
			}
		}
		fmt.Fprintf(w, "<td class=\"name\">%s</td>", esc(name))
		for _, g := range statsHTMLColumns {
			for _, c := range g.cols {
				fmt.Fprintf(w, "<td>%s</td>", esc(r[statIndex[c[0]]]))
			}
		}
		w.WriteString("</tr>\n")
	}
	w.WriteString("</table>\n")
	if form {
		fmt.Fprintf(w, "<input type=\"hidden\" name=\"b\" value=\"#%s\">Choose the action to perform on the checked servers: <select name=\"action\"><option value=\"\"></option><option value=\"ready\">Set state to READY</option><option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option></select> <input type=\"submit\" value=\"Apply\"></form>\n",
			esc(rows[0][statIndex["iid"]]))
	}
}

// nodeName is the node the page names: its own setting, the global
// "node", or the host's name.
func (b *Balancer) nodeName(own string) string {
	if own != "" {
		return own
	}
	if b.cfg.Global.Node != "" {
		return b.cfg.Global.Node
	}
	host, _ := os.Hostname()
	return host
}

// CheckAuth checks the request's basic credentials against a userlist,
// for the http_auth fetches.
func (ex *exchange) CheckAuth(list string) ([]string, bool) {
	ul := ex.hf.s.b.cfg.Userlist(list)
	user, pass, ok := acl.BasicAuth(ex.req)
	if ul == nil || !ok {
		return nil, false
	}
	return ul.Check(user, pass)
}
