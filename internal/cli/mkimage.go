package cli

import (
	"errors"
	"io"
	"strings"

	"kios.dev/kios/internal/ociimage"
)

func mkimage(args []string, stderr io.Writer) error {
	fs := newFlags("mkimage", stderr)
	bin := fs.String("binary", "", "static binary to put at /bin/NAME")
	ref := fs.String("name", "", "image reference, e.g. localhost/kios/dhcp:v1")
	out := fs.String("o", "", "archive to write")
	extra := fs.String("args", "", "space-separated default arguments")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" || *ref == "" || *out == "" {
		return errors.New("mkimage: -binary, -name and -o are required")
	}
	img, tag, err := ociimage.FromBinary(*bin, *ref, strings.Fields(*extra))
	if err != nil {
		return err
	}
	return ociimage.WriteArchive(*out, tag, img)
}
