package cli

import (
	"fmt"
	"io"

	"kios.dev/kios/internal/bench"
)

type writerLog struct{ w io.Writer }

func (l writerLog) Printf(f string, a ...any) { fmt.Fprintf(l.w, f+"\n", a...) }

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	efi := fs.String("efi", defaultOutput(), "EFI image to measure")
	boots := fs.Int("boots", 3, "number of boots")
	out := fs.String("out", "out/bench", "directory for boot.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *boots < 1 {
		return fmt.Errorf("bench: --boots must be at least 1")
	}
	r, err := bench.Bench(*efi, *boots, writerLog{stderr})
	if err != nil {
		return err
	}
	r.Print(stdout)
	return r.Write(*out)
}
