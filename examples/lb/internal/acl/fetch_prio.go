package acl

// PriorityContext is a Context whose request has a place in the queues
// (set-priority-class, set-priority-offset), for prio_class and
// prio_offset; in another Context both read 0, a stream's defaults.
type PriorityContext interface {
	QueuePriority() (class, offset int)
}

func init() {
	for _, name := range []string{"prio_class", "prio_offset"} {
		offset := name == "prio_offset"
		RegisterFetch(Fetch{Name: name, Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
			pc, ok := c.(PriorityContext)
			if !ok {
				return Int(0), true
			}
			class, off := pc.QueuePriority()
			if offset {
				return Int(int64(off)), true
			}
			return Int(int64(class)), true
		})})
	}
}
