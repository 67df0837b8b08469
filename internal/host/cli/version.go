package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"kios.dev/kios/components"
	"kios.dev/kios/internal/shared/osrelease"
)

// VersionCommand is `version`: kiOS's version and the versions of the
// kubelet, containerd and runc that kios build puts in the image.
func VersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the versions of kiOS and of the kubelet, containerd and runc it builds in",
		Long: `Print kiOS's version (what kios build stamps into the image's os-release
without --version) and the versions of the kubelet, containerd and runc
that make builds into out/parts, as pinned in components/versions.env of
the source this command was built from.`,
		Args: NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			current().write(cmd.OutOrStdout())
			return nil
		},
	}
}

// versions are what kios version prints.
type versions struct {
	KiOS, Kubelet, Containerd, Runc string
}

func current() versions {
	p := components.Pins()
	return versions{KiOS: osrelease.DefaultVersion, Kubelet: p["KUBERNETES_VERSION"], Containerd: p["CONTAINERD_VERSION"], Runc: p["RUNC_VERSION"]}
}

func (v versions) write(w io.Writer) {
	for _, l := range []struct{ name, version string }{
		{"kiOS", v.KiOS}, {"kubelet", v.Kubelet}, {"containerd", v.Containerd}, {"runc", v.Runc},
	} {
		if l.version == "" {
			l.version = "unknown (not in components/versions.env)"
		}
		fmt.Fprintf(w, "%-11s %s\n", l.name, l.version)
	}
}
