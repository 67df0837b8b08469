package image

import (
	"fmt"
	"os"
	"path/filepath"

	"kios.dev/kios/internal/shared/join"
)

// JoinImage is the join pod's image, primed only into images that join.
const JoinImage = "localhost/kios/join:v1"

// JoinManifest is the join pod's static manifest, at JoinManifestPath
// under /etc (0600: it holds the token); its image is JoinArchive.
func JoinManifest(p join.Params) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("--join: %w", err)
	}
	return []byte(fmt.Sprintf(`# Joins this node to the cluster at %[1]s, as kubeadm join does.
apiVersion: v1
kind: Pod
metadata:
  name: join
  namespace: kube-system
  labels:
    app.kubernetes.io/name: join
    app.kubernetes.io/part-of: kios
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  priority: 2000001000
  containers:
  - name: join
    image: %[4]s
    imagePullPolicy: Never
    args: ["--api=%[1]s", "--token=%[2]s", "--ca-cert-hash=%[3]s", "--kubernetes-dir=/host/etc/kubernetes", "--system-socket=/host/run/system.sock"]
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: ["ALL"]
    volumeMounts:
    - name: kubernetes
      mountPath: /host/etc/kubernetes
    - name: system-socket
      mountPath: /host/run/system.sock
  volumes:
  - name: kubernetes
    hostPath:
      path: /etc/kubernetes
      type: Directory
  - name: system-socket
    hostPath:
      path: /run/system.sock
      type: Socket
`, p.API, p.Token, p.CAHash, JoinImage)), nil
}

// JoinManifestPath is the join pod's manifest, relative to /etc.
const JoinManifestPath = "kubernetes/manifests/join.yaml"

// JoinArchive is the join pod's image archive in the parts directory.
func JoinArchive(parts string) (string, error) {
	archive := filepath.Join(parts, "extra", "join.tar")
	if _, err := os.Stat(archive); err != nil {
		return "", fmt.Errorf("join pod image: %w", err)
	}
	return archive, nil
}

// addJoin configures the join pod in the image: its manifest and its
// image archive.
func addJoin(t *Tree, parts string, p join.Params) (string, error) {
	manifest, err := JoinManifest(p)
	if err != nil {
		return "", err
	}
	archive, err := JoinArchive(parts)
	if err != nil {
		return "", err
	}
	if err := t.File("etc/"+JoinManifestPath, 0o600, manifest); err != nil {
		return "", err
	}
	return archive, nil
}
