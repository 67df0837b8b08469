package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"kios.dev/kios/internal/host/ociimage"
)

func mkimage(args []string, stderr io.Writer) error {
	fs := newFlags("mkimage", stderr)
	bin := fs.String("binary", "", "static binary to put at /bin/NAME")
	ref := fs.String("name", "", "image reference, e.g. localhost/kios/dhcp:v1")
	out := fs.String("o", "", "archive to write")
	extra := fs.String("args", "", "space-separated default arguments")
	var adds multi
	fs.Var(&adds, "add", "SRC:DEST another executable to put in the image; repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" || *ref == "" || *out == "" {
		return errors.New("mkimage: -binary, -name and -o are required")
	}
	base := filepath.Base(*bin)
	files := []ociimage.File{{Src: *bin, Dest: "bin/" + base}}
	for _, a := range adds {
		src, dest, ok := strings.Cut(a, ":")
		if !ok || src == "" || dest == "" || strings.HasPrefix(dest, "/") {
			return fmt.Errorf("mkimage: -add %q: want SRC:DEST with a relative DEST", a)
		}
		files = append(files, ociimage.File{Src: src, Dest: dest})
	}
	img, tag, err := ociimage.FromFiles(*ref, files, append([]string{"/bin/" + base}, strings.Fields(*extra)...))
	if err != nil {
		return err
	}
	return ociimage.WriteArchive(*out, tag, img)
}
