package configsock

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/shared/configsrc"
	"kios.dev/kios/internal/shared/rootsock"
)

type handler struct{ got []Request }

func (h *handler) ApplyConfig(r Request) (Result, error) {
	h.got = append(h.got, r)
	if r.Document == "bad" {
		return Result{}, errors.New("document 1: bad")
	}
	return Result{Applied: true}, nil
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), SocketName)
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := &handler{}
	go Serve(ln, h)
	req := Request{Source: configsrc.SourceURL, Meta: configsrc.Meta{InstanceID: "i-1"}, Document: strings.Repeat("x", configsrc.MaxSize)}
	res, err := Send(path, req)
	if err != nil || !res.Applied {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	if len(h.got) != 1 || !cmp.Equal(h.got[0], req) {
		t.Errorf("PID 1 got %d requests, first differs: %v", len(h.got), len(h.got) == 1 && !cmp.Equal(h.got[0], req))
	}
	if _, err := Send(path, Request{Source: configsrc.SourceURL, Document: "bad"}); err == nil || !strings.HasSuffix(err.Error(), ": document 1: bad") {
		t.Errorf("refused document: err = %v", err)
	}
	if _, err := Send(path, Request{Document: strings.Repeat("x", configsrc.MaxSize+1)}); !errors.Is(err, configsrc.ErrTooLarge) {
		t.Errorf("oversized document: err = %v", err)
	}
	// A client that sends more than a request can hold gets no
	// answer but an error, and PID 1 reads no further.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go func() { c.Write(make([]byte, maxRequest+2)); c.(*net.UnixConn).CloseWrite() }()
	out, _ := io.ReadAll(c)
	c.Close()
	if !strings.Contains(string(out), rootsock.ErrTooLarge.Error()) {
		t.Errorf("oversized request: answer %q", out)
	}
	if len(h.got) != 2 {
		t.Errorf("handler saw %d requests, want 2", len(h.got))
	}
}
