package boot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type recLog struct{ lines []string }

func (r *recLog) Printf(f string, a ...any) { r.lines = append(r.lines, fmt.Sprintf(f, a...)) }

func TestRunContinuesAfterFailureAndPanic(t *testing.T) {
	var ran []string
	step := func(name string, err error, panics bool) Step {
		return Step{name, func(context.Context) error {
			ran = append(ran, name)
			if panics {
				panic("boom")
			}
			return err
		}}
	}
	log := &recLog{}
	failed := Run(context.Background(), log, []Step{
		step("mount", nil, false),
		step("modules", errors.New("no such file"), false),
		step("network", nil, true),
		step("kubelet", nil, false),
	})
	if diff := cmp.Diff([]string{"mount", "modules", "network", "kubelet"}, ran); diff != "" {
		t.Errorf("steps run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"modules", "network"}, failed); diff != "" {
		t.Errorf("failed steps (-want +got):\n%s", diff)
	}
	joined := strings.Join(log.lines, "\n")
	for _, want := range []string{
		"step=mount status=ok", `step=modules status=failed`, `err="no such file"`, `err="panic: boom"`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("log lacks %q:\n%s", want, joined)
		}
	}
}

func TestLogFormat(t *testing.T) {
	var b strings.Builder
	l := NewLog(&b, "<5>", func() time.Duration { return 1234567 * time.Microsecond })
	l.Printf("step=%s status=ok", "mount")
	if got, want := b.String(), "<5>kios: t=1.235 step=mount status=ok\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

type syncLog struct {
	ch chan string
}

func (s syncLog) Printf(f string, a ...any) { s.ch <- fmt.Sprintf(f, a...) }

func TestGoRecoversPanics(t *testing.T) {
	log := syncLog{ch: make(chan string, 1)}
	Go(log, "worker", func() { panic("bad state") })
	select {
	case line := <-log.ch:
		if !strings.Contains(line, "event=goroutine-panic name=worker") {
			t.Errorf("logged %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("panic not reported")
	}
}

func TestIsStorage(t *testing.T) {
	for alias, want := range map[string]bool{
		"pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00": true,  // virtio-blk (legacy)
		"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00": true,  // virtio-net: virtio_pci is shared
		"pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01": true,  // AHCI
		"pci:v0000144Dd0000A808sv0000144Dsd0000A801bc01sc08i02": true,  // NVMe
		"pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00": false, // e1000e
		"virtio:d00000002v00001AF4":                             true,
		"virtio:d00000001v00001AF4":                             false,
		"acpi:PNP0C0C:":                                         false,
	} {
		if got := IsStorage(alias); got != want {
			t.Errorf("IsStorage(%s) = %t", alias, got)
		}
	}
}
