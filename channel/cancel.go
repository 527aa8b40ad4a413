package channel

import (
	"context"
	"fmt"
	"sync"
)

// cancels groups running tunnels by the Done channel of their context, so
// that a context shared by many tunnels (a balancer's) carries one
// context.AfterFunc for all of them rather than one each: an AfterFunc
// costs a context of its own, two closures and an entry in the parent's
// set of children, about 150 bytes for as long as the tunnel lives, idle
// or not, where a place in a group's list costs the tunnel three words.
//
// Contexts that share a Done channel are canceled together and, through
// the context that owns the channel, report the same cause.
var cancels struct {
	mu     sync.Mutex
	groups map[<-chan struct{}]*cancelGroup
}

// cancelGroup is the running tunnels whose context has one Done channel.
type cancelGroup struct {
	done <-chan struct{}
	ctx  context.Context // the first tunnel's, for the cause
	stop func() bool     // stops the group's AfterFunc
	head *Tunnel
}

// watch makes the cancellation of ctx fail t, until unwatch.
func (t *Tunnel) watch(ctx context.Context) {
	done := ctx.Done()
	if done == nil {
		return // never canceled
	}
	cancels.mu.Lock()
	defer cancels.mu.Unlock()
	g := cancels.groups[done]
	if g == nil {
		if cancels.groups == nil {
			cancels.groups = make(map[<-chan struct{}]*cancelGroup)
		}
		g = &cancelGroup{done: done, ctx: ctx}
		cancels.groups[done] = g
		// fire runs on a goroutine of its own (at once when ctx is already
		// done), so taking cancels.mu there cannot deadlock with this.
		g.stop = context.AfterFunc(ctx, g.fire)
	}
	t.cg, t.prev, t.next = g, nil, g.head
	if g.head != nil {
		g.head.prev = t
	}
	g.head = t
}

// unwatch takes t out of its group, and drops the group once empty.
func (t *Tunnel) unwatch() {
	cancels.mu.Lock()
	g := t.cg
	if g == nil {
		cancels.mu.Unlock()
		return // never watched, or already failed by fire
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		g.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.cg, t.prev, t.next = nil, nil, nil
	var stop func() bool
	if g.head == nil && cancels.groups[g.done] == g {
		delete(cancels.groups, g.done)
		stop = g.stop
	}
	cancels.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// fire fails every tunnel of the group once its context is done. A tunnel
// watching the same context from now on starts a new group, whose
// AfterFunc runs at once.
func (g *cancelGroup) fire() {
	cancels.mu.Lock()
	if cancels.groups[g.done] == g {
		delete(cancels.groups, g.done)
	}
	var ts []*Tunnel
	for t := g.head; t != nil; {
		next := t.next
		t.cg, t.prev, t.next = nil, nil, nil
		ts = append(ts, t)
		t = next
	}
	g.head = nil
	cancels.mu.Unlock()
	err := fmt.Errorf("channel: tunnel: %w", context.Cause(g.ctx))
	for _, t := range ts {
		t.fail(SideNone, CauseCanceled, err)
	}
}
