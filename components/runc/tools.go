//go:build tools

// Package components pins runc; see ../build.sh.
package components

import (
	_ "github.com/opencontainers/runc"
)
