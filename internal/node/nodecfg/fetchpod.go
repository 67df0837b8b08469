package nodecfg

import (
	"fmt"
	"os"
	"strings"

	"kios.dev/kios/internal/shared/configsock"
	"kios.dev/kios/internal/shared/nodeconfig"
)

// FetchManifest is the config pod's static manifest, relative to the
// root; PID 1 writes it when a network source may answer and removes it
// otherwise.
const FetchManifest = ManifestDir + "/fetch-config.yaml"

// MetadataPlausible tells whether an EC2-compatible metadata service
// may answer: kios.metadata= says so, or the firmware's DMI data names
// Amazon EC2 (or OpenStack, which serves the same API). Elsewhere the
// node does not wait on 169.254.169.254.
func MetadataPlausible(dmiDir, setting string) bool {
	switch setting {
	case "ec2":
		return true
	case "off":
		return false
	}
	read := func(f string) string {
		b, _ := os.ReadFile(dmiDir + "/" + f)
		return strings.TrimSpace(string(b))
	}
	return read("sys_vendor") == "Amazon EC2" || strings.Contains(strings.ToLower(read("bios_version")), "amazon") ||
		read("product_name") == "OpenStack Nova" || read("chassis_asset_tag") == "OpenStack Nova"
}

// FetchPod is the config pod's manifest: the system image's `system
// config`, on the host's network, with no capability, reading the
// image's CA file when withCA and talking to PID 1's config socket.
// restartPolicy OnFailure: it exits once a source has answered.
func FetchPod(sources []nodeconfig.Source, withCA bool) []byte {
	ca, caVol := "", ""
	if withCA {
		ca = "\n    - name: ca\n      mountPath: /host/" + nodeconfig.ImageCAFile + "\n      readOnly: true"
		caVol = "\n  - name: ca\n    hostPath:\n      path: /" + nodeconfig.ImageCAFile + "\n      type: File"
	}
	return []byte(fmt.Sprintf(`# Fetches this node's configuration from the network sources (%[1]s)
# and hands it to PID 1 (docs/config.md). Written by PID 1 at boot.
apiVersion: v1
kind: Pod
metadata:
  name: fetch-config
  namespace: kube-system
  labels:
    app.kubernetes.io/name: fetch-config
    app.kubernetes.io/part-of: kios
  annotations:
    io.containerd.runc.v2.group: kios-system
spec:
  hostNetwork: true
  restartPolicy: OnFailure
  priorityClassName: system-node-critical
  priority: 2000001000
  containers:
  - name: config
    image: localhost/kios/system:v1
    imagePullPolicy: Never
    args: ["config", "--sources=%[1]s"]
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: ["ALL"]
    resources:
      requests: {cpu: 5m, memory: 8Mi}
      limits: {memory: 32Mi}
    volumeMounts:
    - name: socket
      mountPath: /host%[2]s%[3]s
  volumes:
  - name: socket
    hostPath:
      path: %[2]s
      type: Directory%[4]s
`, nodeconfig.FormatSources(sources), configsock.SocketDir, ca, caVol))
}
