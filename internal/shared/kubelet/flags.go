package kubelet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Paths on the node, relative to the root directory Flags is given.
const (
	ConfigFile          = "etc/kubernetes/config.yaml"
	KubeconfigFile      = "etc/kubernetes/kubelet.conf"
	BootstrapFile       = "etc/kubernetes/bootstrap-kubelet.conf"
	NodeLabelsFile      = "etc/kubernetes/node-labels"
	NodeIPFile          = "etc/kubernetes/node-ip"
	CredentialProviders = "etc/kubernetes/credential-providers.yaml"
	// MergedConfigFile is ConfigFile with the node configuration's
	// KubeletConfiguration merged over it (internal/node/nodecfg); the
	// kubelet reads it instead when it exists.
	MergedConfigFile = "run/kios/config/kubelet.yaml"
	// ConfigLabelsFile holds the node configuration's labels, which win
	// over NodeLabelsFile's.
	ConfigLabelsFile = "run/kios/config/node-labels"
	// ConfigNodeIPFile holds the node IPs the network section decides
	// (its static addresses), which win over NodeIPFile's.
	ConfigNodeIPFile = "run/kios/config/node-ip"
	// LeasedNodeIPFile holds a dual-stack node's pair when an address
	// came from DHCP or SLAAC (PID 1 writes it from the network pod's
	// reports); it wins over ConfigNodeIPFile, whose static addresses it
	// includes.
	LeasedNodeIPFile = "run/kios/network/node-ip"
	// StandaloneDropins holds the KubeletConfiguration drop-in that turns
	// the server off when there is no API server to authenticate against.
	StandaloneDropins = "etc/kios/kubelet-standalone.d"
	// CredentialProviderBin is where credential provider plugins live;
	// it is on the kubelet's writable, executable storage.
	CredentialProviderBin = "/var/lib/kubelet/credential-providers"
)

// Mode tells whether the kubelet talks to an API server.
type Mode string

const (
	Standalone Mode = "standalone"
	Cluster    Mode = "cluster"
)

// Flags builds the kubelet's arguments (without argv[0]) from the files
// under root. Missing optional files are skipped; a file that exists but
// cannot be read is an error naming it.
func Flags(root string, log Logger) ([]string, Mode, error) {
	return flags(root, log, false)
}

// flags is Flags; held builds the standalone arguments even when
// kubeconfigs exist (see Hold).
func flags(root string, log Logger, held bool) ([]string, Mode, error) {
	abs := func(rel string) string { return "/" + rel }
	exists := func(rel string) (bool, error) {
		_, err := os.Stat(filepath.Join(root, rel))
		if err == nil {
			return true, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("check %s: %w", abs(rel), err)
	}
	var args []string
	mode := Standalone
	if ok, err := exists(MergedConfigFile); err != nil {
		return nil, "", err
	} else if ok {
		args = append(args, "--config="+abs(MergedConfigFile))
	} else if ok, err := exists(ConfigFile); err != nil {
		return nil, "", err
	} else if ok {
		args = append(args, "--config="+abs(ConfigFile))
	}
	hasKubeconfig, err := exists(KubeconfigFile)
	if err != nil {
		return nil, "", err
	}
	hasBootstrap, err := exists(BootstrapFile)
	if err != nil {
		return nil, "", err
	}
	if (hasKubeconfig || hasBootstrap) && !held {
		mode = Cluster
	}
	if hasBootstrap && mode == Cluster {
		args = append(args, "--bootstrap-kubeconfig="+abs(BootstrapFile))
	}
	// --kubeconfig is where a bootstrapped kubelet writes its credentials,
	// so it is given before the file exists, and in the same place after:
	// the flags stay the same when the kubelet writes it, and PID 1 does
	// not restart a kubelet that has just bootstrapped.
	if mode == Cluster {
		args = append(args, "--kubeconfig="+abs(KubeconfigFile))
	}
	if mode == Standalone {
		if ok, err := exists(StandaloneDropins); err != nil {
			return nil, "", err
		} else if ok {
			args = append(args, "--config-dir="+abs(StandaloneDropins))
		}
	}
	labels := map[string]string{}
	for _, rel := range []string{NodeLabelsFile, ConfigLabelsFile} {
		f, err := os.Open(filepath.Join(root, rel))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("open %s: %w", abs(rel), err)
		}
		some, err := ParseNodeLabels(f, log)
		f.Close()
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", abs(rel), err)
		}
		for k, v := range some {
			labels[k] = v
		}
	}
	if len(labels) > 0 {
		args = append(args, "--node-labels="+FormatLabels(labels))
	}
	for _, f := range []string{LeasedNodeIPFile, ConfigNodeIPFile, NodeIPFile} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("read %s: %w", abs(f), err)
		}
		if ip := strings.TrimSpace(string(b)); ip != "" {
			args = append(args, "--node-ip="+ip)
			break
		}
	}
	if ok, err := exists(CredentialProviders); err != nil {
		return nil, "", err
	} else if ok {
		args = append(args, "--image-credential-provider-config="+abs(CredentialProviders),
			"--image-credential-provider-bin-dir="+CredentialProviderBin)
	}
	return args, mode, nil
}
