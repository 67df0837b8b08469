package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"kios.dev/kios/internal/host/cli"
	"kios.dev/kios/internal/host/ociimage"
)

func mkimageCommand() *cobra.Command {
	var bin, ref, out, extra string
	var uncompressed bool
	var adds []string
	cmd := &cobra.Command{
		Use:   "mkimage --binary FILE --name REF -o FILE",
		Short: "make a single-binary OCI image archive (used by make)",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if bin == "" || ref == "" || out == "" {
				return cli.UsageErrorf(cmd, "mkimage: --binary, --name and -o are required")
			}
			base := filepath.Base(bin)
			files := []ociimage.File{{Src: bin, Dest: "bin/" + base}}
			for _, a := range adds {
				src, dest, ok := strings.Cut(a, ":")
				if !ok || src == "" || dest == "" || strings.HasPrefix(dest, "/") {
					return fmt.Errorf("mkimage: --add %q: want SRC:DEST with a relative DEST", a)
				}
				files = append(files, ociimage.File{Src: src, Dest: dest})
			}
			var opts []ociimage.Option
			if uncompressed {
				opts = append(opts, ociimage.Uncompressed())
			}
			img, tag, err := ociimage.FromFiles(ref, files, append([]string{"/bin/" + base}, strings.Fields(extra)...), opts...)
			if err != nil {
				return err
			}
			return ociimage.WriteArchive(out, tag, img)
		},
	}
	f := cmd.Flags()
	f.StringVar(&bin, "binary", "", "static binary to put at /bin/NAME")
	f.StringVar(&ref, "name", "", "image reference, e.g. localhost/kios/dhcp:v1")
	f.StringVarP(&out, "output", "o", "", "archive to write")
	f.StringVar(&extra, "args", "", "space-separated default arguments")
	f.StringArrayVar(&adds, "add", nil, "SRC:DEST another executable to put in the image; repeatable")
	f.BoolVar(&uncompressed, "uncompressed", false, "store the layer uncompressed (the images primed in the EFI, whose squashfs compresses them)")
	return cmd
}
