package supervise

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOutputRotatesAndMirrors(t *testing.T) {
	dir := t.TempDir()
	var mirror bytes.Buffer
	o := &Output{Dir: dir, MaxBytes: 100, Mirror: &syncBuf{b: &mirror}}
	w, err := o.Pipe("kubelet")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		w.WriteString(strings.Repeat("x", 29) + "\n")
		time.Sleep(5 * time.Millisecond) // separate reads, as a service logs
	}
	w.Close()
	waitFor(t, "rotation", func() bool {
		_, err := os.Stat(filepath.Join(dir, "kubelet.log.1"))
		return err == nil
	})
	time.Sleep(50 * time.Millisecond)
	cur, _ := os.ReadFile(filepath.Join(dir, "kubelet.log"))
	if len(cur) > 100 {
		t.Errorf("current log is %d bytes, over the 100-byte cap", len(cur))
	}
	if got := strings.Count(mirrorString(&mirror), "kubelet: "); got != 10 {
		t.Errorf("mirror has %d prefixed lines, want 10:\n%s", got, mirrorString(&mirror))
	}
}

var mirrorMu = make(chan struct{}, 1)

type syncBuf struct{ b *bytes.Buffer }

func (s *syncBuf) Write(p []byte) (int, error) {
	mirrorMu <- struct{}{}
	defer func() { <-mirrorMu }()
	return s.b.Write(p)
}

func mirrorString(b *bytes.Buffer) string {
	mirrorMu <- struct{}{}
	defer func() { <-mirrorMu }()
	return b.String()
}
