package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Runner starts a program inside the lab network.
type Runner interface {
	Command(ctx context.Context, argv ...string) *exec.Cmd
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// ControlPlane is a running control plane.
type ControlPlane struct {
	Layout    Layout
	Advertise net.IP
	procs     []proc
	stopped   []proc // ended by StopComponent, to start again
}

type proc struct {
	name string
	argv []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Binaries says where the upstream programs are.
type Binaries struct{ Etcd, APIServer, ControllerManager, Scheduler string }

// Start writes certificates (once) and starts etcd, the API server, the
// controller manager and the scheduler inside the lab, logging to
// DIR/logs. It returns when the API server is ready.
func Start(ctx context.Context, r Runner, l Layout, advertise net.IP, b Binaries) (*ControlPlane, error) {
	if err := WriteCerts(l, advertise); err != nil {
		return nil, fmt.Errorf("control plane certificates: %w", err)
	}
	cp := &ControlPlane{Layout: l, Advertise: advertise}
	ip := advertise.String()
	p := l.PKI
	for _, s := range []struct {
		name string
		argv []string
	}{
		{"etcd", []string{b.Etcd, "--name=lab", "--data-dir=" + filepath.Join(l.Dir, "etcd"),
			"--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
			"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
			"--initial-cluster=lab=http://127.0.0.1:2380", "--log-level=warn"}},
		{"kube-apiserver", []string{b.APIServer, "--advertise-address=" + ip, "--bind-address=0.0.0.0", "--secure-port=6443",
			"--etcd-servers=http://127.0.0.1:2379", "--service-cluster-ip-range=" + ServiceCIDR,
			"--client-ca-file=" + p("ca.crt"), "--tls-cert-file=" + p("apiserver.crt"), "--tls-private-key-file=" + p("apiserver.key"),
			"--kubelet-client-certificate=" + p("apiserver-kubelet-client.crt"), "--kubelet-client-key=" + p("apiserver-kubelet-client.key"),
			"--kubelet-certificate-authority=" + p("ca.crt"), "--kubelet-preferred-address-types=InternalIP",
			"--enable-bootstrap-token-auth=true", "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + p("sa.pub"), "--service-account-signing-key-file=" + p("sa.key"),
			"--proxy-client-cert-file=" + p("front-proxy-client.crt"), "--proxy-client-key-file=" + p("front-proxy-client.key"),
			"--requestheader-client-ca-file=" + p("front-proxy-ca.crt"), "--requestheader-allowed-names=front-proxy-client",
			"--requestheader-extra-headers-prefix=X-Remote-Extra-", "--requestheader-group-headers=X-Remote-Group",
			"--requestheader-username-headers=X-Remote-User", "--allow-privileged=true"}},
		{"kube-controller-manager", []string{b.ControllerManager, "--kubeconfig=" + l.Conf("controller-manager"),
			"--authentication-kubeconfig=" + l.Conf("controller-manager"), "--authorization-kubeconfig=" + l.Conf("controller-manager"),
			"--bind-address=127.0.0.1", "--client-ca-file=" + p("ca.crt"), "--root-ca-file=" + p("ca.crt"),
			"--cluster-signing-cert-file=" + p("ca.crt"), "--cluster-signing-key-file=" + p("ca.key"),
			"--service-account-private-key-file=" + p("sa.key"), "--use-service-account-credentials=true",
			"--controllers=*,bootstrapsigner,tokencleaner", "--allocate-node-cidrs=true", "--cluster-cidr=" + PodCIDR,
			"--service-cluster-ip-range=" + ServiceCIDR, "--leader-elect=false"}},
		{"kube-scheduler", []string{b.Scheduler, "--kubeconfig=" + l.Conf("scheduler"),
			"--authentication-kubeconfig=" + l.Conf("scheduler"), "--authorization-kubeconfig=" + l.Conf("scheduler"),
			"--bind-address=127.0.0.1", "--leader-elect=false"}},
	} {
		if err := cp.start(r, s.name, s.argv); err != nil {
			cp.Stop()
			return nil, err
		}
		if s.name == "kube-apiserver" {
			if err := cp.waitReady(ctx, r); err != nil {
				cp.Stop()
				return nil, err
			}
		}
	}
	return cp, nil
}

func (cp *ControlPlane) start(r Runner, name string, argv []string) error {
	logs := filepath.Join(cp.Layout.Dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	// Appended to: a component started again (StartComponent) keeps
	// its earlier log.
	f, err := os.OpenFile(filepath.Join(logs, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Not tied to a context: the control plane outlives the call that
	// starts it and is ended by Stop.
	cmd := r.Command(context.Background(), argv...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	pr := proc{name: name, argv: argv, cmd: cmd, done: make(chan struct{})}
	cp.procs = append(cp.procs, pr)
	go func() { _ = cmd.Wait(); f.Close(); close(pr.done) }()
	return nil
}

// HTTPClient is an admin client for the API server, dialing in the lab.
func (cp *ControlPlane) HTTPClient(r Runner) (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(cp.Layout.PKI("apiserver-kubelet-client.crt"), cp.Layout.PKI("apiserver-kubelet-client.key"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(cp.Layout.PKI("ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:     r.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
	}}, nil
}

func (cp *ControlPlane) waitReady(ctx context.Context, r Runner) error {
	c, err := cp.HTTPClient(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	url := fmt.Sprintf("https://%s:6443/readyz", cp.Advertise)
	var last error
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz: %s", resp.Status)
		}
		last = err
		time.Sleep(time.Second)
	}
	return fmt.Errorf("API server not ready (see %s): %w", filepath.Join(cp.Layout.Dir, "logs", "kube-apiserver.log"), last)
}

// Stop ends every control plane process: SIGTERM, then SIGKILL after 10 s.
func (cp *ControlPlane) Stop() {
	for i := len(cp.procs) - 1; i >= 0; i-- {
		cp.procs[i].end()
	}
	cp.procs = nil
}

func (p proc) end() {
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
}

var errNotRunning = errors.New("not running")

// StopComponent ends one component (e.g. "kube-apiserver") as Stop ends
// them all, for fault tests; StartComponent starts it again.
func (cp *ControlPlane) StopComponent(name string) error {
	for i, p := range cp.procs {
		if p.name == name {
			p.end()
			cp.procs = append(cp.procs[:i], cp.procs[i+1:]...)
			cp.stopped = append(cp.stopped, p)
			return nil
		}
	}
	return fmt.Errorf("stop %s: %w", name, errNotRunning)
}

// StartComponent starts a component StopComponent ended, with the same
// arguments; the API server is waited for until it is ready.
func (cp *ControlPlane) StartComponent(ctx context.Context, r Runner, name string) error {
	for i, p := range cp.stopped {
		if p.name != name {
			continue
		}
		cp.stopped = append(cp.stopped[:i], cp.stopped[i+1:]...)
		if err := cp.start(r, name, p.argv); err != nil {
			return err
		}
		if name == "kube-apiserver" {
			return cp.waitReady(ctx, r)
		}
		return nil
	}
	return fmt.Errorf("start %s: not stopped by StopComponent", name)
}
