// Command inspector is a test-only pod (privileged, hostPID, hostNetwork;
// never in the default image). It reports the host's files, mounts,
// processes and addresses as JSON, and kills host processes on request,
// so VM tests can check the node from inside.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/mounts"
	"kios.dev/kios/internal/shared/upgrade/upgradesock"
)

// host is the host's root, seen through PID 1.
const host = "/proc/1/root"

// Report is what /report returns.
type Report struct {
	Bin         []File              `json:"bin"`
	Executables []string            `json:"executables"` // on the root image, outside /bin
	Shells      []string            `json:"shells"`      // shell or interpreter names anywhere on the host
	Mounts      []mounts.Info       `json:"mounts"`
	Processes   []Process           `json:"processes"`
	Addrs       map[string][]string `json:"addrs"`
	Listening   []Socket            `json:"listening"`
	Sysctls     map[string]string   `json:"sysctls"`
	RootFiles   map[string]string   `json:"root_files"` // every path on the root image and its mode
}

// File is one entry of /bin.
type File struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
	Link string `json:"link,omitempty"`
}

// Process is one host process.
type Process struct {
	Pid  int    `json:"pid"`
	PPid int    `json:"ppid"`
	Comm string `json:"comm"`
	Exe  string `json:"exe"`
	// Cgroup is the process's cgroup v2 path ("/system").
	Cgroup string `json:"cgroup"`
}

var interpreters = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true, "busybox": true,
	"toybox": true, "python": true, "python3": true, "perl": true, "ruby": true, "lua": true, "node": true, "tclsh": true}

// skipped holds container storage and kernel filesystems: what runs in
// containers is not the host's.
var skipped = []string{"/proc", "/sys", "/dev", "/var/lib/containerd", "/run/containerd", "/var/lib/kubelet"}

func report(sysctlKeys []string) (Report, error) {
	r := Report{RootFiles: map[string]string{}}
	entries, err := os.ReadDir(host + "/bin")
	if err != nil {
		return r, err
	}
	for _, e := range entries {
		info, _ := e.Info()
		f := File{Name: e.Name(), Mode: info.Mode().String()}
		if info.Mode()&os.ModeSymlink != 0 {
			f.Link, _ = os.Readlink(filepath.Join(host, "bin", e.Name()))
		}
		r.Bin = append(r.Bin, f)
	}
	var rootSt syscall.Stat_t
	if err := syscall.Stat(host+"/", &rootSt); err != nil {
		return r, err
	}
	err = filepath.Walk(host+"/", func(p string, info os.FileInfo, err error) error {
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, host), "/")
		if err != nil {
			return nil
		}
		for _, s := range skipped {
			if rel == s {
				return filepath.SkipDir
			}
		}
		if interpreters[info.Name()] || strings.HasPrefix(info.Name(), "python") {
			r.Shells = append(r.Shells, rel)
		}
		st := info.Sys().(*syscall.Stat_t)
		if st.Dev == rootSt.Dev {
			r.RootFiles[rel] = info.Mode().String()
		}
		if info.Mode().IsRegular() && info.Mode()&0o111 != 0 && !strings.HasPrefix(rel, "/bin/") {
			r.Executables = append(r.Executables, fmt.Sprintf("%s (%s, device %d)", rel, info.Mode(), st.Dev))
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if r.Mounts, err = mounts.ReadMountinfo("/proc/1/mountinfo"); err != nil {
		return r, err
	}
	r.Processes = processes()
	r.Listening = listening()
	r.Sysctls = sysctls(sysctlKeys)
	r.Addrs = map[string][]string{}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			r.Addrs[i.Name] = append(r.Addrs[i.Name], a.String())
		}
	}
	return r, nil
}

func processes() []Process {
	var out []Process
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parens.
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		exe, _ := os.Readlink(filepath.Join("/proc", d.Name(), "exe"))
		cg, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "cgroup"))
		out = append(out, Process{Pid: pid, PPid: ppid, Comm: s[open+1 : close], Exe: exe,
			Cgroup: strings.TrimSpace(strings.TrimPrefix(string(cg), "0::"))})
	}
	return out
}

func main() {
	addr := flag.String("listen", ":9090", "address")
	writeDirs := flag.String("write-dirs", "", "writer mode: append fsynced records to seq.log in each of these comma-separated directories")
	graceful := flag.String("graceful", "", "graceful mode: record this name's preStop hook (GET /prestop) and SIGTERM handling")
	record := flag.String("record", "/record", "graceful mode: directory of shutdown.log")
	prestop := flag.String("prestop", "", "preStop hook mode: record this name's hook in --record and return after 2 s")
	syscalls := flag.Bool("try-syscalls", false, "try syscalls seccomp must refuse, print the results and wait")
	hogRate := flag.Int("hog", 0, "memory hog mode: allocate and touch this many MiB a second until killed")
	flag.Parse()
	if *hogRate > 0 {
		hog(*hogRate)
	}
	if *syscalls {
		trySyscalls()
	}
	if *prestop != "" {
		runPreStop(*prestop, *record)
		return
	}
	if *writeDirs != "" {
		serveWriter(*addr, strings.Split(*writeDirs, ","))
		return
	}
	if *graceful != "" {
		serveGraceful(*addr, *graceful, *record)
		return
	}
	// Stopped, the inspector takes a second to go, so a request that
	// stops the node can finish what it does after.
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	go func() {
		<-terms
		time.Sleep(time.Second)
		os.Exit(0)
	}()
	http.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		var keys []string
		if k := r.URL.Query().Get("sysctls"); k != "" {
			keys = strings.Split(k, ",")
		}
		rep, err := report(keys)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	})
	http.HandleFunc("/kill", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("exe")                 // e.g. /bin/kubelet
		any := r.URL.Query().Get("any") != ""            // not only children of PID 1
		pid, _ := strconv.Atoi(r.URL.Query().Get("pid")) // only this one, if it runs exe
		var killed []int
		for _, p := range processes() {
			if p.Exe == name && (p.PPid == 1 || any) && p.Pid != 1 && (pid == 0 || p.Pid == pid) {
				if err := syscall.Kill(p.Pid, syscall.SIGKILL); err == nil {
					killed = append(killed, p.Pid)
				}
			}
		}
		json.NewEncoder(w).Encode(killed)
	})
	http.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		matches, _ := filepath.Glob(host + r.URL.Query().Get("glob"))
		var out []string
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err == nil {
				out = append(out, string(b))
			}
		}
		json.NewEncoder(w).Encode(out)
	})
	// /sum reads the host files glob matches and answers each one's
	// SHA-256, by path (without reading them into memory whole).
	http.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		matches, _ := filepath.Glob(host + r.URL.Query().Get("glob"))
		out := map[string]string{}
		for _, m := range matches {
			f, err := os.Open(m)
			if err != nil {
				out[strings.TrimPrefix(m, host)] = "error: " + err.Error()
				continue
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				out[strings.TrimPrefix(m, host)] = "error: " + err.Error()
				continue
			}
			out[strings.TrimPrefix(m, host)] = hex.EncodeToString(h.Sum(nil))
		}
		json.NewEncoder(w).Encode(out)
	})
	// /write puts data in a host file (e.g. /etc/hostname).
	http.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if err := os.WriteFile(host+q.Get("path"), []byte(q.Get("data")), 0o644); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	// /fill allocates a host file until the filesystem is full.
	http.HandleFunc("/fill", func(w http.ResponseWriter, r *http.Request) {
		n, err := fill(host + r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, n)
	})
	http.HandleFunc("/remove", func(w http.ResponseWriter, r *http.Request) {
		if err := os.Remove(host + r.URL.Query().Get("path")); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	// /upgrade asks PID 1's upgrade socket (as the upgrade pod does):
	// op=stage|rollback|status, tries, reboot, allow-downgrade; a stage
	// hands over the request body as the image, with pad= zero bytes
	// appended (an image too large for the ESP without uploading one).
	http.HandleFunc("/upgrade", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		tries, _ := strconv.Atoi(q.Get("tries"))
		req := upgradesock.Request{Op: q.Get("op"), Tries: tries, Reboot: q.Get("reboot") != "", AllowDowngrade: q.Get("allow-downgrade") != ""}
		var img *os.File
		if req.Op == upgradesock.OpStage {
			// In memory (memfd), as the upgrade pod's image sits already
			// on disk: no writes of the upload compete with the stage's.
			fd, err := unix.MemfdCreate("image", unix.MFD_CLOEXEC)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			f := os.NewFile(uintptr(fd), "image")
			defer f.Close()
			if _, err := io.Copy(f, r.Body); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			if pad, _ := strconv.ParseInt(q.Get("pad"), 10, 64); pad > 0 {
				st, _ := f.Stat()
				f.Truncate(st.Size() + pad)
			}
			img = f
		}
		res, err := upgradesock.Send(host+filepath.Join(upgradesock.SocketDir, upgradesock.SocketName), req, img)
		out := map[string]any{"result": res}
		if err != nil {
			out["error"] = err.Error()
		}
		json.NewEncoder(w).Encode(out)
	})
	// /syssock sends one byte to PID 1's system socket, then optionally
	// kills a host program (kill=/bin/kubelet) after a pause (ms).
	http.HandleFunc("/syssock", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		b, err := strconv.ParseUint(q.Get("byte"), 0, 8)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		c, err := net.Dial("unix", host+"/run/system.sock")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, err = c.Write([]byte{byte(b)})
		c.Close()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if exe := q.Get("kill"); exe != "" {
			ms, _ := strconv.Atoi(q.Get("after"))
			time.Sleep(time.Duration(ms) * time.Millisecond)
			var killed []int
			for _, p := range processes() {
				if p.Exe == exe && p.PPid == 1 && syscall.Kill(p.Pid, syscall.SIGKILL) == nil {
					killed = append(killed, p.Pid)
				}
			}
			json.NewEncoder(w).Encode(killed)
		}
	})
	log.Printf("inspector: listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

// hog allocates memory at rate MiB a second, touching every page so the
// kernel must back it, and keeps it until the process is killed.
func hog(rate int) {
	var held [][]byte
	for total := 0; ; total += rate {
		b := make([]byte, rate<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		held = append(held, b)
		log.Printf("hog: holding %d MiB", total+rate)
		time.Sleep(time.Second)
	}
}
