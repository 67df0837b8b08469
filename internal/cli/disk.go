package cli

import (
	"fmt"
	"io"

	"kios.dev/kios/internal/disk"
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
	if err := fs.Parse(args); err != nil {
		return err
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
