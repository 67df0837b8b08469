// Package nodeconfig reads a node's configuration document: a YAML (or
// JSON) stream of static Pods, at most one KubeletConfiguration and at
// most one NodeConfig (config.kios.dev/v1alpha1). PID 1 checks every
// document it is given with Parse, and `kios config validate`, `kios
// build --config FILE` and `kios disk --config FILE` call the same
// function, so what the tools accept the node applies. Unknown fields
// are errors: schema.json, generated from the pinned upstream types,
// lists every field of a Pod and of the kubelet's configuration.
package nodeconfig
