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
}

// Take reads the current snapshot under root.
func Take(root string, log Logger) (Snapshot, error) {
	flags, mode, err := Flags(root, log)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{Flags: flags, Mode: mode}
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
