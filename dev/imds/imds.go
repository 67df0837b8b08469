// Package imds runs AWS's own EC2 instance metadata mock
// (github.com/aws/amazon-ec2-metadata-mock, a tool of the dev module)
// for the lab: the VM tests and the benchmark give a node its user-data
// the way EC2 does, IMDSv2 only.
package imds

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"kios.dev/kios/internal/host/lab/labnet"
)

// binary builds the mock once per process.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "kios-aemm-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ec2-metadata-mock")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock")
	cmd.Dir = moduleDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build AWS's EC2 metadata mock (a tool of dev/go.mod): %v\n%s", err, out)
	}
	return bin, nil
})

// moduleDir is where `go build` finds the mock's pinned version: the
// dev module; kios-dev runs from the repository's root (make bench),
// the tests from inside the module.
func moduleDir() string {
	if _, err := os.Stat(filepath.Join("dev", "go.mod")); err == nil {
		return "dev"
	}
	return ""
}

// Instance is what the mock answers.
type Instance struct {
	UserData   []byte
	InstanceID string
	Hostname   string // meta-data/local-hostname
}

// Start runs the mock at host:port; wrap runs it elsewhere (e.g. "ip
// netns exec LAB"), dir keeps its configuration and log. stop ends it.
func Start(wrap []string, dir, host string, port int, in Instance) (stop func(), err error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	cfg, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"values": map[string]string{"instance-id": in.InstanceID, "local-hostname": in.Hostname}},
		"userdata": map[string]any{"values": map[string]string{"userdata": base64.StdEncoding.EncodeToString(in.UserData)}},
	})
	path := filepath.Join(dir, "aemm.json")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return nil, err
	}
	argv := append(append([]string{}, wrap...), bin, "--hostname", host, "--port", fmt.Sprint(port), "--config-file", path, "--imdsv2")
	cmd := exec.Command(argv[0], argv[1:]...)
	logf, err := os.Create(filepath.Join(dir, "aemm.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start the EC2 metadata mock: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
			logf.Close()
		})
	}, nil
}

// Address is where EC2 instances find the service.
const Address = "169.254.169.254"

// StartInLab runs the mock at Address:80 inside the lab's network
// namespace, the address given to its bridge, so the lab's nodes reach
// it through their default route as an instance reaches EC2's.
func StartInLab(ctx context.Context, l *labnet.Lab, dir string, in Instance) (stop func(), err error) {
	if out, err := l.Command(ctx, "ip", "addr", "add", Address+"/32", "dev", labnet.BridgeName).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s in the lab: %v: %s", Address, err, out)
	}
	return Start([]string{"ip", "netns", "exec", l.Name}, dir, Address, 80, in)
}
