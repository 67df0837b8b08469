package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/yaml"
)

// kubeconfig is the part of the kubelet's kubeconfig the gate reads.
// PID 1 does not link client-go (its size and memory are the node's):
// one GET of its own Node is all it asks.
type kubeconfig struct {
	Clusters []struct {
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthority     string `json:"certificate-authority"`
			CertificateAuthorityData string `json:"certificate-authority-data"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		User struct {
			ClientCertificate     string `json:"client-certificate"`
			ClientCertificateData string `json:"client-certificate-data"`
			ClientKey             string `json:"client-key"`
			ClientKeyData         string `json:"client-key-data"`
		} `json:"user"`
	} `json:"users"`
}

// NodeReadyFrom asks the API server of the kubeconfig at path (the
// kubelet's, with its client certificate) for the Node name. The
// kubeconfig is read at each call: the kubelet rotates its certificate.
func NodeReadyFrom(path, name string) func(context.Context) (Node, error) {
	return func(ctx context.Context) (Node, error) {
		client, server, err := clientFor(path)
		if err != nil {
			return Node{}, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/api/v1/nodes/"+url.PathEscape(name), nil)
		if err != nil {
			return Node{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return Node{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return Node{}, fmt.Errorf("GET node %s: %s", name, resp.Status)
		}
		return decodeNode(resp.Body)
	}
}

func decodeNode(r interface{ Read([]byte) (int, error) }) (Node, error) {
	var n struct {
		Status struct {
			Conditions []struct {
				Type, Status, Reason, Message string
			} `json:"conditions"`
			NodeInfo struct {
				OSImage string `json:"osImage"`
			} `json:"nodeInfo"`
		} `json:"status"`
	}
	if err := json.NewDecoder(r).Decode(&n); err != nil {
		return Node{}, fmt.Errorf("decode the Node: %w", err)
	}
	out := Node{OSImage: n.Status.NodeInfo.OSImage, Reason: "no Ready condition yet"}
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			out.Ready = c.Status == "True"
			out.Reason = c.Reason
			if c.Message != "" {
				out.Reason += ": " + c.Message
			}
		}
	}
	return out, nil
}

func clientFor(path string) (*http.Client, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("the kubelet's kubeconfig: %w", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return nil, "", fmt.Errorf("the kubelet's kubeconfig %s: %w", path, err)
	}
	if len(kc.Clusters) == 0 || len(kc.Users) == 0 || kc.Clusters[0].Cluster.Server == "" {
		return nil, "", fmt.Errorf("the kubelet's kubeconfig %s: no cluster server or user", path)
	}
	c, u := kc.Clusters[0].Cluster, kc.Users[0].User
	dir := filepath.Dir(path)
	ca, err := material(dir, c.CertificateAuthorityData, c.CertificateAuthority)
	if err != nil {
		return nil, "", fmt.Errorf("cluster CA: %w", err)
	}
	certPEM, err := material(dir, u.ClientCertificateData, u.ClientCertificate)
	if err != nil {
		return nil, "", fmt.Errorf("client certificate: %w", err)
	}
	keyPEM, err := material(dir, u.ClientKeyData, u.ClientKey)
	if err != nil {
		return nil, "", fmt.Errorf("client key: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, "", errors.New("cluster CA: no PEM certificate")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, "", fmt.Errorf("client certificate: %w", err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, c.Server, nil
}

// material is inline base64 data or the file a path names (relative to
// the kubeconfig's directory).
func material(dir, data, path string) ([]byte, error) {
	if data != "" {
		return base64.StdEncoding.DecodeString(data)
	}
	if path == "" {
		return nil, errors.New("neither data nor a file")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	return os.ReadFile(path)
}
