package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fill allocates path until its filesystem has no block left, without
// writing the blocks (fallocate), and returns the bytes taken.
func fill(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	for chunk := int64(1 << 30); chunk >= 4096; {
		err := unix.Fallocate(int(f.Fd()), 0, total, chunk)
		switch {
		case err == nil:
			total += chunk
		case errors.Is(err, unix.ENOSPC):
			chunk /= 2
		default:
			return total, err
		}
	}
	return total, f.Sync()
}

// writerStatus is what the writer reports about one directory.
type writerStatus struct {
	Resumed int  `json:"resumed"` // the last record found at start
	Valid   bool `json:"valid"`   // the file at start was 1..Resumed, each whole
	Synced  int  `json:"synced"`  // the last record written and fsynced
	Errors  int  `json:"errors"`  // failed writes (a full disk)
}

// serveWriter appends record N (a line "N") to DIR/seq.log in each
// directory every 100 ms, fsyncing each, and reports over HTTP what it
// found at start and what it has synced, so a test can check what
// survives a reboot or a power cut.
func serveWriter(addr string, dirs []string) {
	var mu sync.Mutex
	status := map[string]*writerStatus{}
	files := map[string]*os.File{}
	for _, d := range dirs {
		path := filepath.Join(d, "seq.log")
		last, valid := readRecords(path)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			log.Fatal(err)
		}
		files[d] = f
		status[d] = &writerStatus{Resumed: last, Valid: valid, Synced: last}
		log.Printf("writer: %s resumes after record %d (valid %v)", path, last, valid)
	}
	go func() {
		for range time.Tick(100 * time.Millisecond) {
			mu.Lock()
			for _, d := range dirs {
				st, f := status[d], files[d]
				next := st.Synced + 1
				if _, err := fmt.Fprintf(f, "%d\n", next); err != nil {
					st.Errors++
					continue
				}
				if err := f.Sync(); err != nil {
					st.Errors++
					continue
				}
				st.Synced = next
			}
			mu.Unlock()
		}
	}()
	http.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(status)
	})
	log.Fatal(http.ListenAndServe(addr, nil))
}

// readRecords returns the last record of a file and whether it holds
// exactly 1..last. Only the final line may be torn (a power cut during
// a write that was never synced); it is cut off.
func readRecords(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, errors.Is(err, os.ErrNotExist)
	}
	lines := strings.SplitAfter(string(b), "\n")
	last, good := 0, 0
	for i, line := range lines {
		n, err := strconv.Atoi(strings.TrimSuffix(line, "\n"))
		if err != nil || n != last+1 || !strings.HasSuffix(line, "\n") {
			if i < len(lines)-1 {
				return last, false
			}
			os.Truncate(path, int64(good))
			break
		}
		last, good = n, good+len(line)
	}
	return last, true
}

// recorder appends "NAME EVENT UNIXNANO" lines to dir/shutdown.log,
// fsyncing each.
func recorder(name, dir string) func(event string) {
	f, err := os.OpenFile(filepath.Join(dir, "shutdown.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	return func(event string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f, "%s %s %d\n", name, event, time.Now().UnixNano())
		f.Sync()
	}
}

// runPreStop is a preStop hook (exec) taking 2 s.
func runPreStop(name, dir string) {
	rec := recorder(name, dir)
	rec("prestop-start")
	time.Sleep(2 * time.Second)
	rec("prestop-end")
}

// serveGraceful records, in dir/shutdown.log, when this pod's SIGTERM
// handling starts and ends (it takes 2 s); its preStop hook is
// runPreStop.
func serveGraceful(addr, name, dir string) {
	rec := recorder(name, dir)
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	go func() {
		<-terms
		rec("term-start")
		time.Sleep(2 * time.Second)
		rec("term-end")
		os.Exit(0)
	}()
	rec("started")
	log.Fatal(http.ListenAndServe(addr, nil))
}
