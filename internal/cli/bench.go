package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"kios.dev/kios/internal/bench"
	"kios.dev/kios/internal/up"
)

type writerLog struct{ w io.Writer }

func (l writerLog) Printf(f string, a ...any) { fmt.Fprintf(l.w, f+"\n", a...) }

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	efi := fs.String("efi", defaultOutput(), "EFI image to measure")
	boots := fs.Int("boots", 3, "number of boots")
	out := fs.String("out", "out/bench", "directory for boot.json")
	clusterMode := fs.Bool("cluster", false, "measure kios up instead: node registered, Ready, first Deployment pod")
	archive := fs.String("image", filepath.Join("out", "demo-image.tar"), "with --cluster: image archive for the Deployment")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *boots < 1 {
		return fmt.Errorf("bench: --boots must be at least 1")
	}
	if *clusterMode {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		c := up.Config{Nodes: 1, Parts: defaultParts(), Cache: defaultCache()}
		_, med, err := bench.Cluster(self, c, *boots, *archive, "localhost/kios/demo:v1", writerLog{stderr})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "kiOS cluster benchmark, %d boots, seconds from the node's QEMU start (median):\n", *boots)
		for _, k := range []string{"node registered", "node ready", "first pod running"} {
			fmt.Fprintf(stdout, "  %-22s %6.1f\n", k, med[k])
		}
		fmt.Fprintln(stdout, "target (TCG, 2 cores): Node Ready within 60 s of QEMU start")
		return nil
	}
	r, err := bench.Bench(*efi, *boots, writerLog{stderr})
	if err != nil {
		return err
	}
	r.Print(stdout)
	return r.Write(*out)
}
