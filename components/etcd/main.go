// Command etcd is upstream etcd, built from its module at the version
// components/go.mod pins, for the lab control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
