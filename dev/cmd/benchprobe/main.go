// Command benchprobe runs in the comparison benchmark's pods: "serve"
// reports the host's footprint on :10299, "stop-after D" takes D to stop
// after SIGTERM.
package main

import (
	"fmt"
	"os"
	"time"

	"kios.dev/kios/dev/bench/probe"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchprobe:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 1 && args[0] == "serve":
		return probe.Serve(fmt.Sprintf(":%d", probe.Port))
	case len(args) == 2 && args[0] == "stop-after":
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return fmt.Errorf("stop-after: %w", err)
		}
		probe.StopAfter(d)
		return nil
	}
	return fmt.Errorf("usage: benchprobe serve | stop-after DURATION (got %q)", args)
}
