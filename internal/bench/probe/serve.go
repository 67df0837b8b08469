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

// Serve answers GET /footprint with the footprint as JSON until SIGTERM
// (GET /footprint?executables=false: without counting the executables).
func Serve(addr string) error {
	mux := http.NewServeMux()
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
