// Command system is the program of kiOS's system pods, one binary for
// all of them so the image carries one Go runtime: `system network`,
// `system ntp`, `system grow`, `system upgrade`, `system config`, `system join`.
package main

import (
	"fmt"
	"log"
	"os"
)

var commands = map[string]func(args []string) error{
	"network": runNetwork,
	"ntp":     runNTP,
	"grow":    runGrow,
	"upgrade": runUpgrade,
	"config":  runConfig,
	"join":    runJoin,
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: system network|ntp|grow|upgrade|config|join [flags]")
		os.Exit(2)
	}
	if err := commands[os.Args[1]](os.Args[2:]); err != nil {
		log.Fatalf("%s: %v", os.Args[1], err)
	}
}
