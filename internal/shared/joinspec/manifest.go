package joinspec

import (
	"fmt"
	"strings"
)

// Image is the join pod's image: the system pods' (system join).
const Image = "localhost/kios/system:v1"

// TokenDir is where PID 1 puts the token of a join that a node's
// configuration asks for (0700, the token file 0600), so the token is
// not in the pod's arguments, which the API server's mirror pod shows.
const TokenDir = "/run/kios/config/join"

// Manifest is the join pod's static manifest. With tokenFile false the
// token is an argument (kios build --join bakes it into a 0600 file of
// the image); with tokenFile true the pod reads TokenDir/token.
func Manifest(p Params, tokenFile bool) ([]byte, error) {
	check := p
	if tokenFile {
		check.Token = "abcdef.0123456789abcdef" // only the shape is checked; the file holds the token
	}
	if err := check.Validate(); err != nil {
		return nil, err
	}
	token := fmt.Sprintf("--token=%s", p.Token)
	mounts, volumes := "", ""
	if tokenFile {
		token = "--token-file=/host" + TokenDir + "/token"
		mounts = "\n    - name: token\n      mountPath: /host" + TokenDir + "\n      readOnly: true"
		volumes = "\n  - name: token\n    hostPath:\n      path: " + TokenDir + "\n      type: Directory"
	}
	return []byte(strings.TrimLeft(fmt.Sprintf(`
# Joins this node to the cluster at %[1]s, as kubeadm join does.
apiVersion: v1
kind: Pod
metadata:
  name: join
  namespace: kube-system
  labels:
    app.kubernetes.io/name: join
    app.kubernetes.io/part-of: kios
  annotations:
    io.containerd.runc.v2.group: kios-system
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  priority: 2000001000
  containers:
  - name: join
    image: %[4]s
    imagePullPolicy: Never
    args: ["join", "--api=%[1]s", "%[2]s", "--ca-cert-hash=%[3]s", "--kubernetes-dir=/host/etc/kubernetes", "--system-socket=/host/run/system.sock"]
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: ["ALL"]
    volumeMounts:
    - name: kubernetes
      mountPath: /host/etc/kubernetes
    - name: system-socket
      mountPath: /host/run/system.sock%[5]s
  volumes:
  - name: kubernetes
    hostPath:
      path: /etc/kubernetes
      type: Directory
  - name: system-socket
    hostPath:
      path: /run/system.sock
      type: Socket%[6]s
`, p.API, token, p.CAHash, Image, mounts, volumes), "\n")), nil
}
