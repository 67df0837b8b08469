package cli

import (
	"github.com/spf13/cobra"

	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/osrelease"
)

func buildCommand() *cobra.Command {
	var o image.Options
	var jp join.Params
	cmd := &cobra.Command{
		Use:   "build",
		Short: "build the node's EFI image",
		Long: `Build the node's EFI image: one file (a unified kernel image) that boots a
Kubernetes node, from the components make staged in out/parts, with your
/etc overlay and container images primed (docs/build.md).`,
		Example: `  kios build -o node.efi                          # one stock image for a fleet
  kios build --config node.yaml -o node.efi        # with its own configuration
  kios build --config-sources data -o locked.efi   # trusts only its data partition
  kios build --config DIR --image app.tar -o node.efi
  kios build --join HOST:6443 --token T --ca-cert-hash sha256:H -o node.efi`,
		Args: NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if jp.API != "" || jp.Token != "" || jp.CAHash != "" {
				o.Join = &jp
			}
			o.Report = cmd.OutOrStdout()
			return image.Build(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Config, "config", "", "node configuration FILE baked into the image (docs/config.md), or a DIR laid over the image's /etc")
	f.StringVar(&o.ConfigSources, "config-sources", "", "configuration sources the image trusts: some of url,volume,metadata,data, or all, or none (default all)")
	f.StringVar(&o.ConfigCA, "config-ca", "", "PEM file of the CAs an https kios.config= URL must chain to")
	f.StringArrayVar(&o.Images, "image", nil, "image archive (docker-archive or OCI layout tarball) to prime; repeatable")
	f.StringVar(&o.Cmdline, "cmdline", "", "kernel arguments appended to the default command line")
	f.StringVar(&o.Version, "version", osrelease.DefaultVersion, "version stamped into os-release (kubectl get nodes -o wide shows it; upgrades compare it)")
	f.StringVarP(&o.Output, "output", "o", DefaultOutput(), "EFI file to write")
	f.StringVar(&o.Parts, "parts", DefaultParts(), "directory of built components (made by `make parts`)")
	f.StringVar(&o.SignKey, "sign-key", "", "PEM private key to sign the EFI with for Secure Boot (with --sign-cert)")
	f.StringVar(&o.SignCert, "sign-cert", "", "PEM certificate of --sign-key, as enrolled in the firmware's db")
	f.StringVar(&jp.API, "join", "", "API server host:port to join (with --token and --ca-cert-hash), as kubeadm join")
	f.StringVar(&jp.Token, "token", "", "bootstrap token for --join")
	f.StringVar(&jp.CAHash, "ca-cert-hash", "", "sha256:HEX pin of the cluster CA for --join")
	return cmd
}
