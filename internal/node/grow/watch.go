package grow

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Watch grows the data partition now and then every interval, so a
// volume enlarged while the node runs is used too. It logs what changed
// and each new outcome, not the same one again. On a RAM-only node it
// returns at once: a data partition is only ever mounted at boot, so
// there will be nothing to grow until the next one, and the pod need
// not keep a process, a shim and a sandbox for nothing.
func Watch(ctx context.Context, socket string, interval time.Duration, log Logger) {
	var last string
	for {
		msg, err := once(socket)
		if msg != last {
			log.Printf("%s", msg)
			last = msg
		}
		if errors.Is(err, ErrNoGrant) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// once asks for the data partition, grows it, and says what happened.
func once(socket string) (string, error) {
	t, err := Request(socket)
	if errors.Is(err, ErrNoGrant) {
		return "grow: no data partition on this node (RAM-only): nothing to grow", err
	}
	if err != nil {
		return "grow: error: " + err.Error(), err
	}
	defer t.Close()
	r, err := Grow(t)
	if err != nil {
		return "grow: error: " + err.Error(), err
	}
	gib := float64(r.Bytes()) / (1 << 30)
	if r.Changed() {
		return fmt.Sprintf("grow: partition %d of %s now ends at LBA %d (was %d); ext4 grew from %d to %d blocks of %d bytes (%.2f GiB)",
			r.Table.Index, t.DiskName, r.Table.NewLastLBA, r.Table.OldLastLBA, r.OldBlocks, r.NewBlocks, r.BlockSize, gib), nil
	}
	return fmt.Sprintf("grow: partition %d of %s fills the disk and ext4 fills the partition (%.2f GiB): nothing to do",
		r.Table.Index, t.DiskName, gib), nil
}
