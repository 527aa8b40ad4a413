package balancer

import (
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// Operational states of a state file's line, as HAProxy's.
const (
	stateStopped  = 0
	stateStarting = 1
	stateRunning  = 2
	stateStopping = 3
)

// restore gives a new server what the state file its backend loads kept
// of it (load-server-state-from-file), as HAProxy applies it before the
// first check: its health and up or down state; its maintenance and
// drain, unless the configuration changed the "disabled" it was started
// with, which then wins; the weight set at run time, unless the
// configured weight changed; a health or agent check the runtime API
// disabled; where its checks went; how long its state had lasted.
// Called from makeServer, before the algorithm sees the server.
func (s *Server) restore(st *config.ServerState, now int64) {
	cfg := s.cfg
	switch st.OpState {
	case stateStopped:
		s.up, s.health = false, 0
	case stateStarting:
		s.up = true
		if cfg.Rise == 1 {
			s.health = cfg.Rise + cfg.Fall - 1
		} else if st.CheckHealth < 1 || st.CheckHealth >= cfg.Rise {
			s.health = cfg.Rise - 1
		} else {
			s.health = st.CheckHealth
		}
	case stateStopping:
		if cfg.Fall == 1 {
			s.up, s.health = false, 0
			break
		}
		s.up, s.health = true, st.CheckHealth
		if s.health < cfg.Rise || s.health > cfg.Rise+cfg.Fall-2 {
			s.health = cfg.Rise
		}
	case stateRunning:
		s.up, s.health = true, cfg.Rise+cfg.Fall-1
	}
	fileCMaint := st.AdminState&config.StateAdminCMaint != 0
	if fileCMaint == cfg.Disabled {
		// The configuration kept its "disabled": the running state
		// stands.
		switch {
		case st.AdminState&config.StateAdminFMaint != 0 && !cfg.Disabled:
			s.maint = true
		case st.AdminState&config.StateAdminFMaint == 0 && cfg.Disabled:
			// Out of the configured maintenance, one failed check from
			// down, as on leaving it at run time.
			s.maint = false
			if cfg.Check {
				s.health = cfg.Rise
			}
		}
	}
	if !s.maint && st.AdminState&config.StateAdminFDrain != 0 && (st.IWeight > 0 || cfg.Weight == 0) {
		s.drain = true
	}
	if st.IWeight == cfg.Weight {
		s.weight = st.UWeight
	}
	if cfg.Check && st.CheckState&config.StateCheckConfig != 0 && st.CheckState&config.StateCheckOn == 0 {
		s.checkOff = true
	}
	if cfg.AgentCheck && st.AgentState&config.StateCheckConfig != 0 && st.AgentState&config.StateCheckOn == 0 {
		s.agentOff = true
	}
	for name, code := range checkStatusCodes {
		if code == st.CheckStatus && code != checkStatusCodes["INI"] {
			s.seedCheck = name
		}
	}
	if st.CheckPort > 0 {
		s.checkPort.Store(int32(st.CheckPort))
	}
	s.lastChange = now - max(st.SinceChange, 0)
	s.recalcWeight(now, s.be.dynamicWeights())
}
