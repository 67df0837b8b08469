package cmdline

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"kios.dev/kios/internal/shared/netconf"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/shared/datapart"
)

func TestParse(t *testing.T) {
	auto := datapart.Spec{Kind: datapart.Auto}
	tests := []struct {
		line     string
		want     Kios
		badWords []string // the words reported, in order
	}{
		{"console=ttyS0 loglevel=6 quiet", Kios{Data: auto}, nil},
		{"kios.data=tmpfs kios.log=console kios.debug=meminfo",
			Kios{Data: datapart.Spec{Kind: datapart.TmpFS}, LogConsole: true, DebugMeminfo: true}, nil},
		{"kios.data=LABEL=data", Kios{Data: datapart.Spec{Kind: datapart.Label, Value: "data"}}, nil},
		{"kios.data=somewhere kios.log=console", Kios{Data: auto, LogConsole: true}, []string{"kios.data=somewhere"}},
		{"kios.dta=tmpfs", Kios{Data: auto}, []string{"kios.dta=tmpfs"}},
		{"kios.log kios.debug=", Kios{Data: auto}, []string{"kios.log", "kios.debug="}},
		{"kios.log=serial", Kios{Data: auto}, []string{"kios.log=serial"}},
		{"kios.data=tmpfs kios.data=/dev/vdb1", Kios{Data: datapart.Spec{Kind: datapart.Path, Value: "/dev/vdb1"}}, []string{"kios.data=/dev/vdb1"}},
		{"xkios.data=tmpfs", Kios{Data: auto}, nil},
		{"kios.bless-after=30s kios.trial-timeout=3m kios.watchdog=off", Kios{Data: auto, BlessAfter: 30 * time.Second, TrialTimeout: 3 * time.Minute, WatchdogOff: true}, nil},
		{"kios.config=http://10.0.0.1/n.yaml kios.config-sha256=" + strings.Repeat("AB", 32) + " kios.metadata=ec2",
			Kios{Data: auto, ConfigURL: "http://10.0.0.1/n.yaml", ConfigSHA256: strings.Repeat("ab", 32), Metadata: "ec2"}, nil},
		// A URL that is refused is reported without what may be a credential.
		{"kios.config=ftp://user:pw@host/x?sig=s3cr3t kios.config-sha256=abc kios.metadata=gce", Kios{Data: auto},
			[]string{"kios.config=ftp://host/x?...", "kios.config-sha256=abc", "kios.metadata=gce"}},
		{"ip=10.0.0.5::10.0.0.1:255.255.255.0:n5:eth0:off", Kios{Data: auto, IP: &netconf.KernelIP{Device: "eth0", Hostname: "n5",
			Static: netip.MustParsePrefix("10.0.0.5/24"), Gateway: netip.MustParseAddr("10.0.0.1")}}, nil},
		{"ip=dhcp ip=10.0.0.5:::255.255.0.0::eth0:carrier", Kios{Data: auto, IP: &netconf.KernelIP{}}, []string{"ip=10.0.0.5:::255.255.0.0::eth0:carrier"}},
		{"kios.root-hash=" + strings.Repeat("0F", 32), Kios{Data: auto, RootHash: bytes.Repeat([]byte{0x0f}, 32)}, nil},
		{"kios.root-hash=0f0f", Kios{Data: auto}, []string{"kios.root-hash=0f0f"}},
		{"kios.bless-after=soon kios.trial-timeout=-1m kios.watchdog=on", Kios{Data: auto}, []string{"kios.bless-after=soon", "kios.trial-timeout=-1m", "kios.watchdog=on"}},
	}
	for _, tt := range tests {
		got, errs := Parse(tt.line)
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.line, diff)
		}
		var words []string
		for _, err := range errs {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%q: error %v is not an *Error", tt.line, err)
			}
			if e.Reason == "" {
				t.Errorf("%q: %q reported without a reason", tt.line, e.Word)
			}
			words = append(words, e.Word)
		}
		if diff := cmp.Diff(tt.badWords, words); diff != "" {
			t.Errorf("%q: reported words (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestDefaults(t *testing.T) {
	var k Kios
	if k.Bless() != DefaultBlessAfter || k.Trial() != DefaultTrialTimeout {
		t.Errorf("defaults: bless %s, trial %s", k.Bless(), k.Trial())
	}
	k = Kios{BlessAfter: time.Second, TrialTimeout: time.Hour}
	if k.Bless() != time.Second || k.Trial() != time.Hour {
		t.Errorf("given: bless %s, trial %s", k.Bless(), k.Trial())
	}
}

func FuzzParse(f *testing.F) {
	f.Add("kios.data=LABEL=x kios.log=console console=ttyS0")
	f.Add("kios.=kios.data==")
	f.Fuzz(func(t *testing.T, line string) {
		k, errs := Parse(line)
		_, again := Parse(line + " " + line)
		if len(errs) > 0 && len(again) < len(errs) {
			t.Errorf("%q: doubling the line reported fewer problems (%d < %d)", line, len(again), len(errs))
		}
		switch k.Data.Kind {
		case datapart.Auto, datapart.TmpFS, datapart.PartUUID, datapart.Label, datapart.Path:
		default:
			t.Errorf("%q: data partition kind %q is none of datapart's", line, k.Data.Kind)
		}
	})
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@bucket.example.com/n.yaml?X-Amz-Signature=abc#f": "https://bucket.example.com/n.yaml?...",
		"http://10.0.0.1:8080/config/n1.yaml":                             "http://10.0.0.1:8080/config/n1.yaml",
		"http://%zz":                                                      "(a URL that does not parse)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
