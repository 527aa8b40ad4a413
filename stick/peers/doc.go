// Package peers keeps stick tables in sync between processes and hosts
// with HAProxy's peers protocol (version 2.1), so a Go service can share
// its tables with other Go services and with HAProxy itself.
//
// A Section is one member of a peers section: it knows its own name and
// the name and address of every other member. It listens on its own
// address, connects to every remote member, and keeps one session with
// each (when two members connect to each other at once, the newest
// session wins, as in HAProxy). Over a session each side:
//
//   - pushes its local updates of every shared table, in the table's
//     update order (stick.Config.Sync keeps it), and never sends back what
//     it learned from a peer;
//   - stores what the peer pushes, overwriting the values (rates travel
//     with their current and previous periods), and acknowledges it;
//   - sends a heartbeat after 3 s of silence, and drops a session that
//     stays silent for 10 s, reconnecting after a random 50–2049 ms.
//
// On Start a Section asks the first connected peer for a resync: the peer
// then sends every entry it holds, with the time each has left, before
// going back to live updates. Synced reports when that is over, or when
// no peer could teach within 5 seconds.
//
// Tables are matched with the peer's by name, key type and key length
// (a string table's length counts a terminating NUL on the wire, as in
// HAProxy); the stored data types may differ, and a type only one side
// stores is skipped. A table named "SECTION/NAME", as HAProxy names the
// tables a peers section declares with "table NAME", goes on the wire as
// "/NAME", as HAProxy sends it. conn_cur is never learned: it counts a process's own
// connections. The arrays gpt(N), gpc(N) and gpc_rate(N,period) travel
// element after element, their counts in the table definition; when the
// two sides' counts differ, elements beyond the local count are dropped
// and those the peer lacks are left alone, as in HAProxy.
package peers
