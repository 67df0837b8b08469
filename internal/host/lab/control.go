package lab

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Running returns the daemon's pid when one runs for dir.
func Running(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, PIDFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, syscall.Kill(pid, 0) == nil
}

// Up starts the daemon (self is this program, run as `self lab-daemon`
// with c's values as flags, --system among them when c.System is set)
// and prints its progress until every node is Ready. The cluster keeps
// running after Up returns.
func Up(self string, c Config, out io.Writer, timeout time.Duration) error {
	if pid, ok := Running(c.Dir); ok {
		fmt.Fprintf(out, "kios up: already running (pid %d); kubeconfig %s\n", pid, filepath.Join(c.Dir, Kubeconfig))
		return nil
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(c.Dir, "lab.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	os.Remove(filepath.Join(c.Dir, ProgressFile))
	args := []string{"lab-daemon", "--dir", c.Dir, "--nodes", strconv.Itoa(c.Nodes), "--parts", c.Parts, "--cache", c.Cache,
		"--ram-only=" + strconv.FormatBool(c.RAMOnly), "--efi", c.EFI}
	if c.System != "" {
		// Registered in self as in this process (RegisterSystem).
		args = append(args, "--system", c.System)
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this command and its terminal
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the lab: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	start := time.Now()
	deadline := time.After(timeout)
	var printed int
	for {
		lines := readLines(filepath.Join(c.Dir, ProgressFile))
		for ; printed < len(lines); printed++ {
			fmt.Fprintf(out, "kios up: %s\n", lines[printed])
			if strings.Contains(lines[printed], "] failed: ") {
				return fmt.Errorf("the lab failed; see %s", filepath.Join(c.Dir, "lab.log"))
			}
			if strings.Contains(lines[printed], "] ready: ") {
				fmt.Fprintf(out, "kios up: done in %.0fs. export KUBECONFIG=%s; `kios down --dir %s` stops it\n",
					time.Since(start).Seconds(), filepath.Join(c.Dir, Kubeconfig), c.Dir)
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the lab exited (%v); see %s", err, filepath.Join(c.Dir, "lab.log"))
		case <-deadline:
			return fmt.Errorf("nodes not Ready after %s; the lab keeps running (kios down stops it)", timeout)
		case <-time.After(time.Second):
		}
	}
}

func readLines(p string) []string {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// Down stops the daemon and waits until it has removed everything.
func Down(dir string, out io.Writer) error {
	pid, ok := Running(dir)
	if !ok {
		fmt.Fprintf(out, "kios down: no lab running in %s\n", dir)
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			if _, err := os.Stat("/run/netns/" + nsName(dir)); err == nil {
				return errors.New("the lab stopped but its network namespace remains")
			}
			fmt.Fprintln(out, "kios down: stopped")
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("lab (pid %d) still running after 3 minutes", pid)
}
