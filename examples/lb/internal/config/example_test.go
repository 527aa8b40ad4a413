package config_test

import (
	"fmt"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

func ExampleParse() {
	cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(`
defaults
    timeout connect 5s
frontend web
    bind :8080
    default_backend app
backend app
    balance leastconn
    server a 127.0.0.1:9001 weight 2 check
`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	app := cfg.Proxy("app", config.KindBackend)
	fmt.Println(app.Balance, app.Timeouts.Connect, app.Servers[0].Name, app.Servers[0].Weight, app.Servers[0].Fall)

	_, err = config.Parse(config.Source{Name: "lb.cfg", Data: []byte("backend app\n    serverr a 127.0.0.1:9001\n")})
	fmt.Println(err)
	// Output:
	// leastconn 5s a 2 3
	// lb.cfg:2: unknown keyword: unknown keyword 'serverr' in 'backend' section
}
