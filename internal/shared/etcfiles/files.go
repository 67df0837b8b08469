// Package etcfiles is the list of files under /etc that PID 1, the
// kubelet and containerd read, each with a check light enough for PID 1
// to run at boot. `kios build --config` runs these checks and stricter
// ones (internal/host/etccheck); at boot PID 1 runs them on the files the
// node's writable /etc layer holds (Layer) and falls back to the
// image's copy of a file that cannot work.
package etcfiles

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"sigs.k8s.io/yaml"

	"kios.dev/kios/internal/shared/hostname"
	"kios.dev/kios/internal/shared/kubelet"
)

// File is one file kiOS reads under /etc, by a path pattern (path.Match)
// relative to /etc.
type File struct {
	Pattern string
	Reader  string // who reads it, for messages
	Check   func(b []byte) error
	// KubeletConfig: the kubelet decodes it as its configuration, which
	// etccheck decodes strictly on the host.
	KubeletConfig bool
}

// KubeletConfigVersion is the apiVersion of the kubelet's configuration
// files.
const KubeletConfigVersion = "kubelet.config.k8s.io/v1beta1"

// Files are the checked files.
var Files = []File{
	{"hostname", "PID 1, as the node's name", checkHostname, false},
	{strings.TrimPrefix(kubelet.NodeLabelsFile, "etc/"), "PID 1, for the kubelet's --node-labels", checkNodeLabels, false},
	{strings.TrimPrefix(kubelet.ConfigFile, "etc/"), "the kubelet (--config)", CheckKubeletConfigKind, true},
	{strings.TrimPrefix(kubelet.StandaloneDropins, "etc/") + "/*.conf", "the kubelet in standalone mode (--config-dir)", CheckKubeletConfigKind, true},
	{"containerd/config.toml", "containerd", checkContainerdConfig, false},
	{"kios/modules", "PID 1, as the modules to load at boot", checkModuleList, false},
}

// Lookup finds the entry of a path relative to /etc.
func Lookup(rel string) (File, bool) {
	for _, f := range Files {
		if ok, _ := path.Match(f.Pattern, rel); ok {
			return f, true
		}
	}
	return File{}, false
}

// Check checks a file given its path relative to /etc; files kiOS does
// not read pass. The error names the file and its reader.
func Check(rel string, b []byte) error {
	f, ok := Lookup(rel)
	if !ok {
		return nil
	}
	if err := f.Check(b); err != nil {
		return fmt.Errorf("/etc/%s (read by %s): %w", rel, f.Reader, err)
	}
	return nil
}

func checkHostname(b []byte) error {
	_, err := hostname.Parse(b)
	return err
}

func checkNodeLabels(b []byte) error {
	var bad []string
	if _, err := kubelet.ParseNodeLabels(bytes.NewReader(b), collect{&bad}); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

type collect struct{ msgs *[]string }

func (c collect) Printf(format string, args ...any) {
	*c.msgs = append(*c.msgs, fmt.Sprintf(format, args...))
}

// CheckKubeletConfigKind checks that b is YAML naming the kubelet's
// configuration kind; decoding it against the kubelet's own types is
// etccheck's, on the host.
func CheckKubeletConfigKind(b []byte) error {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	if meta.APIVersion != KubeletConfigVersion || meta.Kind != "KubeletConfiguration" {
		return fmt.Errorf("apiVersion %q, kind %q: want %s, KubeletConfiguration", meta.APIVersion, meta.Kind, KubeletConfigVersion)
	}
	return nil
}

// checkContainerdConfig parses the TOML and checks the schema version
// containerd 2 reads.
func checkContainerdConfig(b []byte) error {
	var cfg map[string]any
	if err := toml.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("not TOML: %w", err)
	}
	switch v := cfg["version"].(type) {
	case nil:
		return fmt.Errorf("no version: containerd 2 wants version = 2, 3 or 4")
	case int64:
		if v < 2 || v > 4 {
			return fmt.Errorf("version = %d: containerd 2 reads versions 2 to 4", v)
		}
	default:
		return fmt.Errorf("version = %v: want a number", v)
	}
	return nil
}

var moduleName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func checkModuleList(b []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		name := strings.TrimSpace(strings.SplitN(sc.Text(), "#", 2)[0])
		if name != "" && !moduleName.MatchString(name) {
			return fmt.Errorf("line %d: %q is not a module name (one name a line, '#' comments)", n, name)
		}
	}
	return sc.Err()
}
