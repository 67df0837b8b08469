package cli

import (
	"fmt"
	"io"

	"kios.dev/kios/internal/host/disk"
	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/shared/join"
)

func runDisk(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("disk", stderr)
	var o disk.Options
	var images multi
	size := fs.String("size", "8G", "disk size (bytes, or with M or G)")
	fs.StringVar(&o.EFI, "efi", defaultOutput(), "the kiOS EFI to put in the EFI System Partition")
	fs.StringVar(&o.Config, "config", "", "directory laid at /meta/etc of the data partition")
	fs.Var(&images, "image", "image archive to prime on the data partition (imported at the first boot); repeatable")
	fs.StringVar(&o.Format, "format", "raw", "raw or qcow2")
	fs.StringVar(&o.Output, "o", "", "disk image to write")
	parts := fs.String("parts", defaultParts(), "built components (the join pod's image, with --join)")
	var jp join.Params
	fs.StringVar(&jp.API, "join", "", "API server host:port to join (with --token and --ca-cert-hash), as kubeadm join; kept on the data partition")
	fs.StringVar(&jp.Token, "token", "", "bootstrap token for --join")
	fs.StringVar(&jp.CAHash, "ca-cert-hash", "", "sha256:HEX pin of the cluster CA for --join")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if jp.API != "" || jp.Token != "" || jp.CAHash != "" {
		o.Join = &jp
		archive, err := image.JoinArchive(*parts)
		if err != nil {
			return err
		}
		o.JoinArchive = archive
	}
	if o.Output == "" {
		return fmt.Errorf("disk: -o FILE is required")
	}
	n, err := disk.ParseSize(*size)
	if err != nil {
		return err
	}
	o.Size = n
	o.Images = images
	if err := disk.Write(o); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kios disk: wrote %s (%s, %s)\n", o.Output, *size, o.Format)
	return nil
}
