// Package testimages rebuilds, from sources this machine can reach, the
// container images the upstream Kubernetes e2e suite runs in its
// [NodeConformance] tests, under their upstream names, so a lab whose
// registry mirrors every registry serves them unchanged (make
// conformance, docs/conformance.md). It is a host tool: nothing here runs
// on a node.
package testimages

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Inputs are where the parts of the images are on this machine.
type Inputs struct {
	// E2E is build/cache/e2e-<version>: agnhost, nnp, and the porter
	// server's certificate (localhost.crt, localhost.key) from the
	// Kubernetes module the kubelet is built from.
	E2E string
	// Debs is build/cache/e2e-debs: one unpacked Debian package per
	// directory, named after the package.
	Debs string
	// Pause is kiOS's pause program.
	Pause string
	// Busybox is busybox built from upstream's source
	// (build/cache/busybox-<version>/busybox): Debian's ash drops
	// environment variables whose names are not shell identifiers
	// (envFrom a ConfigMap with key data-1), upstream's passes them on.
	Busybox string
}

// Image is one test image: its upstream name, how upstream builds it,
// and how this rebuild differs.
type Image struct {
	Name     string
	Upstream string
	Differs  string
	fill     func(in Inputs, t *tree) error
	config   v1.Config
}

// Catalog is every image the [NodeConformance] tests of Kubernetes
// v1.35.4 name (test/utils/image/manifest.go of the module), in the
// order they are built.
var Catalog = []Image{
	{
		Name:     "registry.k8s.io/e2e-test-images/busybox:1.37.0-1",
		Upstream: "Docker Hub's busybox:1.37.0",
		Differs:  "busybox 1.37.0 built here from upstream's source with its default configuration, statically linked against glibc (components/build.sh busybox); every applet also in /bin",
		fill:     withBusybox(nil),
		config:   v1.Config{Cmd: []string{"sh"}},
	},
	{
		Name:     "registry.k8s.io/e2e-test-images/agnhost:2.59",
		Upstream: "agnhost on Alpine with bind-tools, curl, netcat, iproute2, iperf, bash, coredns 1.6.2 and a fake registry",
		Differs:  "agnhost compiled from the kubelet's Kubernetes module; Debian's static bash, curl and OpenBSD netcat, and busybox's tools instead of Alpine's other packages (no dig, iperf or coredns); the fake registry serves kiOS's pause image as pause:testing",
		fill:     withBusybox(agnhost),
		config:   agnhostConfig,
	},
	{
		Name:     "registry.k8s.io/e2e-test-images/agnhost:2.55",
		Upstream: "agnhost 2.55 (the previous version, for tests that change a pod's image)",
		Differs:  "the same agnhost as 2.59 under the older tag: the tests that use it only need an image that differs by name",
		fill:     withBusybox(agnhost),
		config:   agnhostConfig,
	},
	{
		Name:     "registry.k8s.io/e2e-test-images/nonroot:1.4",
		Upstream: "debian-base with USER 1234",
		Differs:  "busybox instead of debian-base; the same user",
		fill:     withBusybox(nil),
		config:   v1.Config{User: "1234", Cmd: []string{"sh"}},
	},
	{
		Name:     "registry.k8s.io/e2e-test-images/nonewprivs:1.3",
		Upstream: "Alpine with nnp, setuid root",
		Differs:  "busybox instead of Alpine; nnp compiled from the kubelet's Kubernetes module",
		fill: withBusybox(func(in Inputs, t *tree) error {
			t.copy("usr/local/bin/nnp", fs.ModeSetuid|0o755, filepath.Join(in.E2E, "nnp"))
			return nil
		}),
		config: v1.Config{Cmd: []string{"nnp"}},
	},
	{
		Name:     "registry.k8s.io/e2e-test-images/nginx:1.14-4",
		Upstream: "nginx 1.14 on Alpine",
		Differs:  "Debian's nginx 1.22 with the libraries it links, and busybox",
		fill:     withBusybox(nginx),
		config: v1.Config{
			Cmd:          []string{"nginx", "-g", "daemon off;"},
			ExposedPorts: map[string]struct{}{"80/tcp": {}},
		},
	},
	pauseImage,
}

// pauseImage is the pods' sandbox image, and the image agnhost's fake
// registry serves.
var pauseImage = Image{
	Name:     "registry.k8s.io/pause:3.10.1",
	Upstream: "the pause program of Kubernetes' build/pause (C), USER 65535",
	Differs:  "kiOS's own pause program (Go, cmd/pause: holds the namespaces, reaps children, exits on SIGINT and SIGTERM)",
	fill: func(in Inputs, t *tree) error {
		t.copy("pause", 0o755, in.Pause)
		return nil
	},
	config: v1.Config{User: "65535:65535", Entrypoint: []string{"/pause"}},
}

var agnhostConfig = v1.Config{
	Entrypoint: []string{"/agnhost"},
	Cmd:        []string{"pause"},
	ExposedPorts: map[string]struct{}{
		"80/tcp": {}, "8080/tcp": {}, "8081/tcp": {}, "9376/tcp": {}, "5000/tcp": {},
	},
}

// passwd and group are the accounts every image has: root, nobody, and
// the user and group agnhost's image defines for the tests of
// supplemental groups.
const passwd = `root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh
www-data:x:33:33:www-data:/var/www:/bin/false
`

const group = `root:x:0:
www-data:x:33:
user-defined-in-image:x:1000:
group-defined-in-image:x:50000:user-defined-in-image
nogroup:x:65534:
`

// withBusybox lays busybox and its applet links, the accounts and the
// usual directories under what more adds.
func withBusybox(more func(in Inputs, t *tree) error) func(in Inputs, t *tree) error {
	return func(in Inputs, t *tree) error {
		bb := in.Busybox
		out, err := exec.Command(bb, "--list-full").Output()
		if err != nil {
			return fmt.Errorf("list busybox's applets (%s --list-full): %w", bb, err)
		}
		t.copy("bin/busybox", 0o755, bb)
		for _, applet := range strings.Fields(string(out)) {
			if applet == "bin/busybox" {
				continue
			}
			t.symlink(applet, "/bin/busybox")
			// Upstream's busybox image has every applet in /bin, and
			// tests name them there (/bin/sysctl is sbin/sysctl in
			// busybox's own list).
			t.symlink(path.Join("bin", path.Base(applet)), "/bin/busybox")
		}
		t.file("etc/passwd", 0o644, []byte(passwd))
		t.file("etc/group", 0o644, []byte(group))
		t.dir("tmp", fs.ModeSticky|0o777)
		t.dir("root", 0o700)
		t.dir("var/tmp", fs.ModeSticky|0o777)
		t.dir("home/user-defined-in-image", 0o755)
		if more != nil {
			return more(in, t)
		}
		return nil
	}
}

// agnhostBash is upstream agnhost's /bin/bash, which tests run.
func agnhostBash(in Inputs, t *tree) error {
	t.copy("bin/bash", 0o755, filepath.Join(in.Debs, "bash-static", "bin", "bash-static"))
	return nil
}

// agnhostPackages are Debian's curl and OpenBSD netcat and the
// libraries they link, in the order they are laid down: the tests'
// lifecycle hooks and networking checks run curl and `nc -u` in agnhost
// (upstream's image has Alpine's; busybox's nc has no UDP).
var agnhostPackages = []string{
	"libc6", "libgcc-s1", "zlib1g", "libzstd1", "libbrotli1", "libssl3", "libffi8", "libgmp10",
	"libnettle8", "libhogweed6", "libtasn1-6", "libp11-kit0", "libunistring2", "libidn2-0", "libgnutls30",
	"libcom-err2", "libkeyutils1", "libkrb5support0", "libk5crypto3", "libkrb5-3", "libgssapi-krb5-2",
	"libdb5.3", "libsasl2-modules-db", "libsasl2-2", "libldap-2.5-0", "libnghttp2-14", "libpsl5",
	"librtmp1", "libssh2-1", "libcurl4", "curl",
	"libmd0", "libbsd0", "netcat-openbsd",
}

func agnhost(in Inputs, t *tree) error {
	if err := agnhostBash(in, t); err != nil {
		return err
	}
	if err := overlayAll(in, t, agnhostPackages); err != nil {
		return fmt.Errorf("curl and netcat: %w", err)
	}
	// What netcat-openbsd's postinst does with update-alternatives, and
	// in place of busybox's nc, which comes first in PATH.
	t.symlink("bin/nc", "nc.openbsd")
	t.symlink("usr/bin/nc", "/bin/nc.openbsd")
	if err := withFakeRegistry(in, t); err != nil {
		return err
	}
	t.copy("agnhost", 0o755, filepath.Join(in.E2E, "agnhost"))
	t.symlink("agnhost-2", "agnhost")
	t.dir("uploads", 0o755)
	for _, f := range []string{"localhost.crt", "localhost.key"} {
		t.copy(f, 0o644, filepath.Join(in.E2E, "agnhost-files", f))
	}
	return nil
}

// nginxPackages are the Debian packages of the nginx image, in the
// order they are laid down.
var nginxPackages = []string{"libc6", "libcrypt1", "libpcre2-8-0", "libssl3", "zlib1g", "nginx-common", "nginx"}

// overlayAll lays down the unpacked Debian packages, in order.
func overlayAll(in Inputs, t *tree, packages []string) error {
	for _, p := range packages {
		if err := t.overlay(filepath.Join(in.Debs, p)); err != nil {
			return fmt.Errorf("package %s: %w", p, err)
		}
	}
	return nil
}

func nginx(in Inputs, t *tree) error {
	if err := overlayAll(in, t, nginxPackages); err != nil {
		return fmt.Errorf("nginx image: %w", err)
	}
	// What the packages' maintainer scripts would do on install, and the
	// upstream image's logs to the container's output.
	t.symlink("etc/nginx/sites-enabled/default", "/etc/nginx/sites-available/default")
	t.copy("var/www/html/index.nginx-debian.html", 0o644, filepath.Join(in.Debs, "nginx-common", "usr/share/nginx/html/index.html"))
	t.dir("var/lib/nginx", 0o755)
	t.dir("run", 0o755)
	t.symlink("var/log/nginx/access.log", "/dev/stdout")
	t.symlink("var/log/nginx/error.log", "/dev/stderr")
	return nil
}

// Check says which inputs are missing, naming them all.
func (in Inputs) Check() error {
	var missing []string
	for _, p := range []string{
		filepath.Join(in.E2E, "agnhost"), filepath.Join(in.E2E, "nnp"),
		filepath.Join(in.E2E, "agnhost-files", "localhost.crt"),
		in.Busybox, filepath.Join(in.Debs, "bash-static", "bin", "bash-static"), in.Pause,
	} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	for _, p := range slices.Concat(nginxPackages, agnhostPackages) {
		if _, err := os.Stat(filepath.Join(in.Debs, p)); err != nil {
			missing = append(missing, filepath.Join(in.Debs, p))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("test image inputs missing (components/build.sh e2e e2e-debs busybox, make build): %s", strings.Join(missing, ", "))
	}
	return nil
}
