package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"kios.dev/kios/internal/shared/upgrade/upgradesock"
)

// runUpgrade is the upgrade pod (kios upgrade and kios rollback start
// it on one node): it hands PID 1 the image it carries, or asks for a
// rollback or the ESP's status, and prints PID 1's answer as JSON (the
// last line of its log, and its termination message).
func runUpgrade(args []string) error {
	fs := flag.NewFlagSet("upgrade", flag.ExitOnError)
	socket := fs.String("socket", filepath.Join(upgradesock.SocketDir, upgradesock.SocketName), "PID 1's upgrade socket")
	efi := fs.String("efi", "/kios.efi", "the kiOS image to stage (stage)")
	tries := fs.Int("tries", 1, "boots the new image gets to pass the health gate (stage)")
	downgrade := fs.Bool("allow-downgrade", false, "stage an older version (stage)")
	reboot := fs.Bool("reboot", true, "reboot once staged or rolled back")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: system upgrade [flags] %s|%s|%s", upgradesock.OpStage, upgradesock.OpRollback, upgradesock.OpStatus)
	}
	req := upgradesock.Request{Op: fs.Arg(0), Tries: *tries, AllowDowngrade: *downgrade, Reboot: *reboot}
	var image *os.File
	if req.Op == upgradesock.OpStage {
		f, err := os.Open(*efi)
		if err != nil {
			return fmt.Errorf("the image to stage: %w", err)
		}
		defer f.Close()
		image = f
	}
	res, err := upgradesock.Send(*socket, req, image)
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	// The client reads the answer from the pod's status, which survives
	// the node's reboot better than its log.
	_ = os.WriteFile("/dev/termination-log", b, 0o644)
	return err
}
