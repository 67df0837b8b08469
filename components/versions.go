// Package components holds the pins of what kiOS ships: versions.env,
// which the Makefile and components/build.sh read, embedded so that the
// kios command reports the versions of what `make` builds into its
// images (kios version) whichever way the command itself was built.
package components

import (
	_ "embed"
	"strings"
)

//go:embed versions.env
var versionsEnv string

// Pins are versions.env's KEY=VALUE lines (KUBERNETES_VERSION,
// CONTAINERD_VERSION, RUNC_VERSION, ...).
func Pins() map[string]string { return parse(versionsEnv) }

// parse reads KEY=VALUE lines; blank lines and # comments are skipped.
func parse(s string) map[string]string {
	pins := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			pins[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return pins
}
