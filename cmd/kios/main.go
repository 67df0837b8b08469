// Command kios builds kiOS images and boots them.
package main

import (
	"fmt"
	"os"

	"kios.dev/kios/internal/host/cli"
)

func main() {
	if err := cli.Run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kios:", err)
		os.Exit(1)
	}
}
