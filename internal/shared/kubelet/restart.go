package kubelet

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Snapshot is what the kubelet was started with: its flags and the
// contents of its kubeconfigs.
type Snapshot struct {
	Flags      []string
	Mode       Mode
	Kubeconfig [32]byte // zero when absent
	Bootstrap  [32]byte
	// Held: the kubeconfigs ask for cluster mode, but no API server in
	// them is routable yet, so the kubelet runs standalone (see Hold).
	Held bool
	// APIServers are the hosts of the kubeconfigs' servers.
	APIServers []string
}

// Hold reads the snapshot under root: the kubelet's flags and its
// kubeconfigs' hashes and servers. When it is in
// cluster mode and routable says no for every API server its kubeconfigs
// name, it is the standalone one, Held. A kubelet started in cluster mode
// before the node has a network fails every request and backs off (its
// TLS bootstrap retries after 2, 4, 8, 16 s, its informers and its
// registration likewise), so a network that comes a little late costs it
// many seconds more; held, it runs the static pods that bring the network
// (DHCP), and a snapshot taken once a server is routable differs from it,
// so PID 1 restarts it in cluster mode. Kubeconfigs naming no server it
// can read are not held.
func Hold(root string, log Logger, routable func(host string) bool) (Snapshot, error) {
	s, err := take(root, log)
	if err != nil || s.Mode != Cluster || len(s.APIServers) == 0 {
		return s, err
	}
	for _, h := range s.APIServers {
		if routable(h) {
			return s, nil
		}
	}
	// Only the flags differ: the kubeconfigs are the same files.
	if s.Flags, s.Mode, err = flags(root, log, true); err != nil {
		return Snapshot{}, err
	}
	s.Held = true
	return s, nil
}

// take reads the snapshot the files under root give, never held.
func take(root string, log Logger) (Snapshot, error) {
	flags, mode, err := Flags(root, log)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{Flags: flags, Mode: mode}
	if s.APIServers, err = APIServers(root); err != nil {
		return Snapshot{}, err
	}
	if s.Kubeconfig, err = hashFile(filepath.Join(root, KubeconfigFile)); err != nil {
		return Snapshot{}, err
	}
	if s.Bootstrap, err = hashFile(filepath.Join(root, BootstrapFile)); err != nil {
		return Snapshot{}, err
	}
	return s, nil
}

func hashFile(p string) ([32]byte, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return [32]byte{}, nil
	}
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// NeedsRestart tells whether a kubelet started with prev must restart to
// use cur: its flags changed, or a kubeconfig appeared, changed or went
// away. The one exception is the kubeconfig a bootstrapping kubelet
// writes itself: absent at start while a bootstrap kubeconfig was given.
func NeedsRestart(prev, cur Snapshot) bool {
	if !slices.Equal(prev.Flags, cur.Flags) {
		return true
	}
	if prev.Held && cur.Held {
		// Still standalone: new kubeconfigs are used once a server is
		// routable, and the flags then differ.
		return false
	}
	if prev.Bootstrap != cur.Bootstrap {
		return true
	}
	if prev.Kubeconfig != cur.Kubeconfig {
		var zero [32]byte
		selfWritten := prev.Kubeconfig == zero && prev.Bootstrap != zero
		return !selfWritten
	}
	return false
}
