package cli

import (
	"fmt"
	"io"

	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/osrelease"
)

func build(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("build", stderr)
	var o image.Options
	var images multi
	fs.StringVar(&o.Config, "config", "", "directory laid over the image's /etc")
	fs.Var(&images, "image", "image archive (docker-archive or OCI layout tarball) to prime; repeatable")
	fs.StringVar(&o.Cmdline, "cmdline", "", "kernel arguments appended to the default command line")
	fs.StringVar(&o.Version, "version", osrelease.DefaultVersion, "version stamped into os-release (kubectl get nodes -o wide shows it; upgrades compare it)")
	fs.StringVar(&o.Output, "o", defaultOutput(), "EFI file to write")
	fs.StringVar(&o.Parts, "parts", defaultParts(), "directory of built components (made by `make parts`)")
	fs.StringVar(&o.SignKey, "sign-key", "", "PEM private key to sign the EFI with for Secure Boot (with --sign-cert)")
	fs.StringVar(&o.SignCert, "sign-cert", "", "PEM certificate of --sign-key, as enrolled in the firmware's db")
	var jp join.Params
	fs.StringVar(&jp.API, "join", "", "API server host:port to join (with --token and --ca-cert-hash), as kubeadm join")
	fs.StringVar(&jp.Token, "token", "", "bootstrap token for --join")
	fs.StringVar(&jp.CAHash, "ca-cert-hash", "", "sha256:HEX pin of the cluster CA for --join")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if jp.API != "" || jp.Token != "" || jp.CAHash != "" {
		o.Join = &jp
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("build: unexpected argument %q", fs.Arg(0))
	}
	o.Images = images
	o.Report = stdout
	return image.Build(o)
}
