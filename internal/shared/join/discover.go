// Package join does what `kubeadm join --token T --discovery-token-ca-cert-hash H API`
// does to trust a cluster: fetch the kube-public/cluster-info ConfigMap,
// check its JWS signature against the bootstrap token, pin the CA by its
// hash, and write the kubelet's CA and bootstrap kubeconfig.
package join

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/cluster-bootstrap/token/jws"
	"sigs.k8s.io/yaml"

	"kios.dev/kios/internal/shared/atomicfile"
	"kios.dev/kios/internal/shared/joinspec"
	"kios.dev/kios/internal/shared/pki"
)

// Sentinel errors: the join pod reports them and keeps the node standalone.
var (
	ErrBadToken   = errors.New("bootstrap token does not match the cluster-info signature")
	ErrCAMismatch = errors.New("cluster CA does not match the pinned hash")
	ErrBadInput   = joinspec.ErrBadInput
)

var tokenRE = joinspec.TokenRE

// The names of kube-public/cluster-info that kubeadm gives them
// (k8s.io/cluster-bootstrap/token/api, whose package links all of
// k8s.io/api: the test checks these against it).
const (
	configMapClusterInfo  = "cluster-info"
	kubeConfigKey         = "kubeconfig"
	jwsSignatureKeyPrefix = "jws-kubeconfig-"
)

// Params are the values `kubeadm token create --print-join-command`
// prints (internal/shared/joinspec, which the node's configuration
// reads without this package's dependencies).
type Params = joinspec.Params

// Result is the trusted cluster.
type Result struct {
	Server string // the API server URL cluster-info names
	CAPEM  []byte
}

type configMap struct {
	Data map[string]string `json:"data"`
}

type kubeconfig struct {
	Clusters []struct {
		Cluster struct {
			Server string `json:"server"`
			CAData []byte `json:"certificate-authority-data"`
		} `json:"cluster"`
	} `json:"clusters"`
}

// Discover fetches and verifies cluster-info. The first request cannot
// verify the server (that is what it is for); trust comes from the token
// signature and the CA pin.
func Discover(ctx context.Context, p Params) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	m := tokenRE.FindStringSubmatch(p.Token)
	id, secret := m[1], m[2]
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:     p.Dial,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // verified by JWS and CA pin below
	}}
	url := "https://" + p.API + "/api/v1/namespaces/" + "kube-public" + "/configmaps/" + configMapClusterInfo
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Result{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("fetch cluster-info from %s: %w", p.API, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Result{}, fmt.Errorf("read cluster-info: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Result{}, fmt.Errorf("fetch cluster-info: %s", resp.Status)
	}
	return Verify(body, id, secret, p.CAHash)
}

// Verify checks a cluster-info ConfigMap (JSON) for token ID.SECRET and
// the pinned CA hash.
func Verify(configMapJSON []byte, id, secret, caHash string) (Result, error) {
	var cm configMap
	if err := json.Unmarshal(configMapJSON, &cm); err != nil {
		return Result{}, fmt.Errorf("parse cluster-info: %w", err)
	}
	content, ok := cm.Data[kubeConfigKey]
	if !ok {
		return Result{}, errors.New("cluster-info has no kubeconfig")
	}
	sig, ok := cm.Data[jwsSignatureKeyPrefix+id]
	if !ok {
		return Result{}, fmt.Errorf("%w: cluster-info is not signed for token ID %s (unknown or expired token)", ErrBadToken, id)
	}
	if !jws.DetachedTokenIsValid(sig, content, id, secret) {
		return Result{}, ErrBadToken
	}
	var kc kubeconfig
	if err := yaml.Unmarshal([]byte(content), &kc); err != nil {
		return Result{}, fmt.Errorf("parse cluster-info kubeconfig: %w", err)
	}
	if len(kc.Clusters) != 1 {
		return Result{}, fmt.Errorf("cluster-info kubeconfig names %d clusters, want 1", len(kc.Clusters))
	}
	c := kc.Clusters[0].Cluster
	cert, err := pki.ParseCert(c.CAData)
	if err != nil {
		return Result{}, fmt.Errorf("cluster-info CA: %w", err)
	}
	if got := pki.Hash(cert); got != strings.ToLower(caHash) {
		return Result{}, fmt.Errorf("%w: cluster has %s", ErrCAMismatch, got)
	}
	return Result{Server: c.Server, CAPEM: c.CAData}, nil
}

// Files are what a join leaves on a node, by path under its
// /etc/kubernetes: the cluster's CA and the bootstrap kubeconfig.
func Files(r Result, token string) map[string][]byte {
	return map[string][]byte{
		CAFile:        r.CAPEM,
		BootstrapFile: pki.Kubeconfig(r.Server, r.CAPEM, "kubelet-bootstrap", nil, token),
	}
}

// Paths of Files under /etc/kubernetes.
const (
	CAFile        = "pki/ca.crt"
	BootstrapFile = "bootstrap-kubelet.conf"
)

// Write stores the CA and the bootstrap kubeconfig under dir (the node's
// /etc/kubernetes), each through a temporary file, the kubeconfig last:
// PID 1 restarts the kubelet when it appears.
func Write(dir string, r Result, token string) error {
	files := Files(r, token)
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, CAFile), files[CAFile], 0o644); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, BootstrapFile), files[BootstrapFile], 0o600)
}
