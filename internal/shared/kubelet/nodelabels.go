// Package kubelet derives the kubelet's command line from files under
// /etc, as the kiOS reference describes.
package kubelet

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Logger receives warnings about skipped input.
type Logger interface {
	Printf(format string, args ...any)
}

// ParseNodeLabels reads the node-labels format: one "key: value" a line,
// '#' starts a comment anywhere, blank lines and extra spaces are ignored.
// Lines that are not a valid label are skipped with a warning naming the
// line; a later line for the same key wins. Only read errors fail.
func ParseNodeLabels(r io.Reader, log Logger) (map[string]string, error) {
	labels := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			log.Printf("node-labels line %d: skipped %q: want \"key: value\"", n, line)
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			log.Printf("node-labels line %d: skipped key %q: %s", n, k, strings.Join(errs, "; "))
			continue
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			log.Printf("node-labels line %d: skipped value %q of %s: %s", n, v, k, strings.Join(errs, "; "))
			continue
		}
		labels[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read node-labels: %w", err)
	}
	return labels, nil
}

// FormatLabels renders labels as the --node-labels flag value, sorted.
func FormatLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}
