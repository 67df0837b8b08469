// Command init is kiOS's PID 1. Linked as modprobe, mount and umount it
// runs those applets instead.
package main

import (
	"os"

	"kios.dev/kios/internal/node/applets"
	"kios.dev/kios/internal/node/boot"
)

func main() {
	if code, ok := applets.Run(os.Args, os.Stderr); ok {
		os.Exit(code)
	}
	boot.Main()
}
