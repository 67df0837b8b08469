package boot

import "kios.dev/kios/internal/shared/events"

// Go runs f in a goroutine that cannot take PID 1 down: a panic is
// logged instead of ending the process (which would panic the kernel).
func Go(log Logger, name string, f func()) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				events.Emit(log, events.GoroutinePanic, "name", name, "panic", r)
			}
		}()
		f()
	}()
}
