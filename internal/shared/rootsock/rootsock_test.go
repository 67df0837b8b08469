package rootsock

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestListenAndPeerUID(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "x.sock")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("stale"), 0o644)
	ln, err := Listen(p)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v, %v: want a 0600 socket", st, err)
	}
	go func() {
		c, err := net.Dial("unix", p)
		if err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	c, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uid, err := PeerUID(c)
	if err != nil || uid != uint32(os.Getuid()) {
		t.Errorf("PeerUID = %d, %v; want %d", uid, err, os.Getuid())
	}
}
