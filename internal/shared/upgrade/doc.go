// Package upgrade holds kiOS's in-place upgrades: a new image is staged
// on the EFI System Partition as a boot-counted entry, the loader boots
// it on trial, and PID 1 blesses it once the node is healthy or the
// loader falls back to the last good one. The parts, and where they are:
//
//   - esp (this folder): the ESP's layout and every change to it, planned
//     then applied (entry names with boot counters, loader.conf, the
//     first-layout conversion, room checks).
//   - upgrade (this package, target.go): what PID 1 does with an image
//     handed to it: check it is a kiOS image (signed when Secure Boot is
//     on, not a downgrade unless asked), stage, bless, roll back.
//   - upgradesock (this folder): the root-only socket between the
//     upgrade pod and PID 1; both link it, only PID 1 links the checks.
//   - internal/node/boot/upgrade.go: PID 1's glue: reads the ESP at
//     boot, reports the entries, serves the socket, runs the trial and
//     the health gate (internal/node/health), blesses or reboots.
//   - cmd/system/upgrade.go: the upgrade pod, which carries the image
//     to the node and hands it to PID 1.
//   - internal/host/rollout: `kios upgrade` and `kios rollback`: node by
//     node, cordon, drain, run the upgrade pod, wait for Ready on the
//     new version.
//
// docs/upgrade.md describes the feature for users.
package upgrade
