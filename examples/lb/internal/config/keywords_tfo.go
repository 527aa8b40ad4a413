package config

import "fmt"

func init() {
	finishers = append(finishers, (*parser).warnFastOpenRetries)
}

// warnFastOpenRetries warns, as HAProxy does, of a server using TCP Fast
// Open in a backend whose retry-on could not send a request again when
// the early bytes are lost.
func (p *parser) warnFastOpenRetries() {
	const need = RetryConnFailure | RetryEmptyResponse | RetryResponseTimeout
	for _, px := range p.cfg.Proxies {
		for _, s := range px.Servers {
			if s.FastOpen && px.RetryOn&need != need {
				p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: 'server %s/%s' : server has tfo activated, the backend should be configured with at least 'conn-failure', 'empty-response' and 'response-timeout' or we wouldn't be able to retry the connection on failure.",
					s.Pos, px.Name, s.Name))
			}
		}
	}
}
