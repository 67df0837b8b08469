// Package hostname reads /etc/hostname as PID 1 does: the first line that
// is neither blank nor a '#' comment. `kios build` checks the file with
// the same code.
package hostname

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxLen is the kernel's HOST_NAME_MAX.
const MaxLen = 64

// Parse returns the host name a file gives, "" for none. A name the node
// cannot use (not a DNS subdomain, which the kubelet needs for the Node's
// name, or longer than the kernel takes) is an error.
func Parse(b []byte) (string, error) {
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) > MaxLen {
			return "", fmt.Errorf("%q is longer than %d characters", line, MaxLen)
		}
		if errs := validation.IsDNS1123Subdomain(line); len(errs) > 0 {
			return "", fmt.Errorf("%q is not a valid host name: %s", line, strings.Join(errs, "; "))
		}
		return line, nil
	}
	return "", nil
}
