package boot

import (
	"context"
	"errors"
	"fmt"
	"os"

	"kios.dev/kios/internal/shared/etcfiles"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/mounts"
)

// checkEtc checks the files PID 1, the kubelet and containerd read that
// /etc's writable layer holds (the data partition's, changed since the
// image was built) before any of them reads one. A file that cannot work
// is reported once and the node reads the image's copy instead, or an
// empty file when the image has none; the stored file is kept, under a
// read-only bind, for the operator to fix.
func (n *Node) checkEtc(context.Context) error {
	if n.imageEtc == nil {
		return fmt.Errorf("the image's /etc was not kept open by the etc step")
	}
	defer func() { n.imageEtc.Close(); n.imageEtc = nil }()
	upper, _ := n.etcDirs()
	var errs []error
	for _, r := range etcfiles.Layer(upper, fmt.Sprintf("/proc/self/fd/%d", n.imageEtc.Fd())) {
		src, fallback := r.Default, "the image's copy"
		if src == "" {
			src, fallback = mounts.EmptyFile, "no file (the image has none)"
			if err := os.WriteFile(mounts.EmptyFile, nil, 0o444); err != nil {
				errs = append(errs, fmt.Errorf("/etc/%s refused, and no empty file for it: %w", r.Rel, err))
				continue
			}
		}
		if err := n.Mounter.Mount(mounts.EtcFileFallback(src, r.Rel)); err != nil {
			events.Emit(n.Log, events.EtcFileRefused, "path", fmt.Sprintf("/etc/%s", r.Rel), "err", r.Err, "fallback", "none", "fallback_err", err)
			errs = append(errs, fmt.Errorf("/etc/%s refused, and its fallback failed: %w", r.Rel, err))
			continue
		}
		events.Emit(n.Log, events.EtcFileRefused, "path", fmt.Sprintf("/etc/%s", r.Rel), "err", r.Err, "fallback", fallback)
	}
	return errors.Join(errs...)
}
