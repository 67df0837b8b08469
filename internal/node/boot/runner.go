package boot

import (
	"context"
	"fmt"
	"time"
)

// Logger is the one method the boot needs from a log.
type Logger interface {
	Printf(format string, args ...any)
}

// Step is one named phase of the boot.
type Step struct {
	Name string
	Run  func(ctx context.Context) error
}

// Run runs steps in order. A failing step is logged with its error and
// the boot goes on: PID 1 keeps running what it can. It returns the
// names of the steps that failed.
func Run(ctx context.Context, log Logger, steps []Step) []string {
	var failed []string
	for _, s := range steps {
		start := time.Now()
		log.Printf("step=%s status=start", s.Name)
		err := safeRun(ctx, s)
		took := time.Since(start).Seconds()
		if err != nil {
			failed = append(failed, s.Name)
			log.Printf("step=%s status=failed took=%.3fs err=%q", s.Name, took, err.Error())
			continue
		}
		log.Printf("step=%s status=ok took=%.3fs", s.Name, took)
	}
	return failed
}

// safeRun turns a panic in a step into an error: PID 1 must not die.
func safeRun(ctx context.Context, s Step) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return s.Run(ctx)
}
