package config

import (
	"errors"
	"fmt"
	"strings"
)

// ServicePrometheus is the one service "http-request use-service" knows:
// HAProxy's built-in Prometheus exporter.
const ServicePrometheus = "prometheus-exporter"

// parseUseService reads "http-request use-service <name>": the request
// is answered by a service of the balancer's own. lb has HAProxy's
// Prometheus exporter; Lua services and any other name are refused.
func parseUseService(r HTTPRule, a []string) (HTTPRule, error) {
	switch {
	case len(a) == 0:
		return r, errors.New("'use-service' expects a service name")
	case len(a) > 1:
		return r, fmt.Errorf("'use-service %s': unexpected '%s' (expects 'if' or 'unless' followed by a condition)", a[0], strings.Join(a[1:], " "))
	case a[0] == ServicePrometheus:
		r.Name = a[0]
		return r, nil
	case strings.HasPrefix(a[0], "lua."):
		// Checked against the scripts' services by the caller.
		r.Name = a[0]
		return r, nil
	}
	return r, fmt.Errorf("'use-service': '%s' unknown service name (only '%s')", a[0], ServicePrometheus)
}
