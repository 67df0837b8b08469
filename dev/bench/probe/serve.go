package probe

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Port is where the probe listens (host network).
const Port = 10299

// ExecRuns is how often /exec-time starts each program.
const ExecRuns = 9

// Serve answers until SIGTERM:
//   - GET /footprint: the footprint as JSON (?executables=false: without
//     counting the executables);
//   - GET /exec-time: ExecProbes timed in the host's root, as JSON;
//   - GET /journal?unit=U: a systemd host's journal of U, as text.
func Serve(addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/exec-time", func(w http.ResponseWriter, r *http.Request) {
		remove, err := CopyRunc(HostRoot)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		t, err := TimeExecs(HostRoot, ExecProbes, ExecRuns, chrootStart)
		remove()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(t)
	})
	mux.HandleFunc("/journal", func(w http.ResponseWriter, r *http.Request) {
		unit := r.URL.Query().Get("unit")
		if unit == "" {
			http.Error(w, "journal: no unit given (?unit=NAME)", http.StatusBadRequest)
			return
		}
		b, err := Journal(HostRoot, unit)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(b)
	})
	mux.HandleFunc("/footprint", func(w http.ResponseWriter, r *http.Request) {
		f, err := Read("/", os.Getpid(), r.URL.Query().Get("executables") != "false")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(f)
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// StopAfter waits for SIGTERM, then takes d more to stop: the pod the
// shutdown benchmark waits for.
func StopAfter(d time.Duration) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	time.Sleep(d)
}
