package upgrade

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"kios.dev/kios/internal/shared/testenv"
	"kios.dev/kios/internal/shared/upgrade/upgradesock"
)

// targetHandler serves a Target as PID 1 does, without the mount.
type targetHandler struct {
	mu sync.Mutex
	t  Target
}

func (h *targetHandler) Stage(img []byte, req upgradesock.Request) (upgradesock.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.t.Stage(img, req)
}
func (h *targetHandler) Rollback(upgradesock.Request) (upgradesock.Result, error) {
	return h.t.Rollback()
}
func (h *targetHandler) Status() (upgradesock.Result, error) { return h.t.Status() }

type discard struct{}

func (discard) Printf(string, ...any) {}

// The image crosses the socket as a file descriptor, PID 1 maps it, and
// errors come back as errors.
func TestSocket(t *testing.T) {
	testenv.NeedRoot(t) // the socket answers root only
	loader := loaderPE(t, "systemd-boot 252")
	root := installed(t, "v1", kiosImage(t, "v1", loader, nil, false), loader)
	sock := filepath.Join(t.TempDir(), "upgrade.sock")
	ln, err := upgradesock.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go upgradesock.Serve(ln, &targetHandler{t: Target{Root: root, Running: "v1", Free: plenty}}, discard{})

	path := filepath.Join(t.TempDir(), "kios.efi")
	os.WriteFile(path, kiosImage(t, "v2", loader, nil, false), 0o644)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := upgradesock.Send(sock, upgradesock.Request{Op: upgradesock.OpStage, Tries: 1}, f)
	if err != nil {
		t.Fatal(err)
	}
	if res.Next != "kios-v2+1.efi" {
		t.Errorf("after staging over the socket the loader boots %s (%+v)", res.Next, res)
	}
	if _, err := upgradesock.Send(sock, upgradesock.Request{Op: upgradesock.OpStage}, nil); err == nil || !strings.Contains(err.Error(), "file descriptor") {
		t.Errorf("stage without an image: %v", err)
	}
	if _, err := upgradesock.Send(sock, upgradesock.Request{Op: "format-disk"}, nil); err == nil || !strings.Contains(err.Error(), "unknown operation") {
		t.Errorf("unknown operation: %v", err)
	}
	res, err = upgradesock.Send(sock, upgradesock.Request{Op: upgradesock.OpStatus}, nil)
	if err != nil || len(res.Entries) != 2 {
		t.Errorf("status: %+v, %v", res, err)
	}
}
