package kubelet

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// serverLine matches a cluster's server in a kubeconfig, YAML
// (`server: https://...`) or JSON (`"server": "https://..."`).
// (`tls-server-name` is not one).
var serverLine = regexp.MustCompile(`(?:^|[\s{,"])server"?\s*:\s*"?([^"\s,}]+)`)

// APIServers returns the hosts (names or addresses) of the API servers
// the kubeconfig and the bootstrap kubeconfig under root name, each once;
// none when neither exists. A server that is not a URL with a host is an
// error naming the file.
func APIServers(root string) ([]string, error) {
	var hosts []string
	for _, rel := range []string{KubeconfigFile, BootstrapFile} {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read /%s: %w", rel, err)
		}
		for _, m := range serverLine.FindAllStringSubmatch(string(b), -1) {
			u, err := url.Parse(m[1])
			if err != nil || u.Hostname() == "" {
				return nil, fmt.Errorf("/%s: server %q is not a URL with a host", rel, m[1])
			}
			if !slices.Contains(hosts, u.Hostname()) {
				hosts = append(hosts, u.Hostname())
			}
		}
	}
	return hosts, nil
}
