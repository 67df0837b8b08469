package supervise

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Output collects the stdout and stderr of services into size-capped log
// files (NAME.log, then NAME.log.1), optionally mirrored to the console.
type Output struct {
	Dir      string
	MaxBytes int64
	Mirror   io.Writer // nil: files only
}

// Pipe returns the write end of a pipe whose output goes to Dir/name.log.
// The caller passes it to the child and closes its copy.
func (o *Output) Pipe(name string) (*os.File, error) {
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	go o.copy(name, r)
	return w, nil
}

// File returns a writer to Dir/name.log with the same size cap and
// rotation, for a program's own log.
func (o *Output) File(name string) io.Writer {
	return &lockedWriter{w: &rotatingFile{path: filepath.Join(o.Dir, name+".log"), max: o.MaxBytes}}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Close closes the file; a later Write opens it again.
func (l *lockedWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.w.(*rotatingFile); ok {
		r.close()
		r.f = nil
	}
	return nil
}

func (o *Output) copy(name string, r *os.File) {
	defer r.Close()
	rf := &rotatingFile{path: filepath.Join(o.Dir, name+".log"), max: o.MaxBytes}
	defer rf.close()
	var w io.Writer = rf
	if o.Mirror != nil {
		w = io.MultiWriter(rf, &prefixWriter{prefix: name + ": ", w: o.Mirror})
	}
	_, _ = io.Copy(w, r)
}

type rotatingFile struct {
	path string
	max  int64
	f    *os.File
	n    int64
}

func (r *rotatingFile) Write(p []byte) (int, error) {
	if r.f == nil || (r.max > 0 && r.n+int64(len(p)) > r.max) {
		if r.f != nil {
			r.f.Close()
			_ = os.Rename(r.path, r.path+".1")
		}
		f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return len(p), nil // a full disk must not block the service
		}
		st, _ := f.Stat()
		r.f, r.n = f, 0
		if st != nil {
			r.n = st.Size()
		}
	}
	n, _ := r.f.Write(p)
	r.n += int64(n)
	return len(p), nil
}

func (r *rotatingFile) close() {
	if r.f != nil {
		r.f.Close()
	}
}

// prefixWriter prefixes each line with the service name.
type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	w      io.Writer
	midLn  bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		if !p.midLn {
			fmt.Fprint(p.w, p.prefix)
		}
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i < len(b) {
			p.w.Write(b[:i+1])
			p.midLn = false
			b = b[i+1:]
			continue
		}
		p.w.Write(b)
		p.midLn = true
		break
	}
	return n, nil
}
