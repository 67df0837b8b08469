package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kios.dev/kios/internal/shared/configsock"
	"kios.dev/kios/internal/shared/configsrc"
)

type logs struct{ lines []string }

func (l *logs) Printf(f string, a ...any) { l.lines = append(l.lines, strings.TrimSpace(f)) }

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/n1.yaml":
			w.Write([]byte(doc))
		case "/latest/api/token": // what IMDSv2 asks first; the lab runs AWS's own mock
			if r.Method != http.MethodPut {
				http.Error(w, "want PUT", http.StatusMethodNotAllowed)
				return
			}
			w.Write([]byte("tok"))
		case "/latest/user-data":
			if r.Header.Get("X-aws-ec2-metadata-token") != "tok" {
				http.Error(w, "no token", http.StatusUnauthorized)
				return
			}
			w.Write([]byte(doc))
		case "/latest/meta-data/instance-id":
			w.Write([]byte("i-1\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		cmdline string
		sources []configsrc.Source
		want    []configsrc.Source // what PID 1 is handed, in order
		err     error
	}{
		{"url answers", "kios.config=" + srv.URL + "/n1.yaml", []configsrc.Source{configsrc.SourceURL, configsrc.SourceMetadata}, []configsrc.Source{configsrc.SourceURL}, nil},
		{"url not trusted", "kios.config=" + srv.URL + "/n1.yaml", []configsrc.Source{configsrc.SourceMetadata}, []configsrc.Source{configsrc.SourceMetadata}, nil},
		{"url fails", "kios.config=" + srv.URL + "/gone.yaml?sig=s3cr3t", []configsrc.Source{configsrc.SourceURL, configsrc.SourceMetadata}, []configsrc.Source{"url!", "url!", configsrc.SourceMetadata}, ErrURLUnanswered},
		{"hash mismatch", "kios.config=" + srv.URL + "/n1.yaml kios.config-sha256=" + strings.Repeat("0", 64), []configsrc.Source{configsrc.SourceURL}, []configsrc.Source{"url!"}, ErrURLUnanswered},
		{"metadata fails", "", []configsrc.Source{configsrc.SourceMetadata}, []configsrc.Source{"metadata!", "metadata!", "metadata!", "metadata!", "metadata!"}, nil},
		{"nothing to ask", "", []configsrc.Source{configsrc.SourceURL}, nil, nil},
	} {
		var got []configsock.Request
		l := &logs{}
		endpoint := srv.URL
		if tc.name == "metadata fails" {
			endpoint = "http://127.0.0.1:1" // nothing listens
		}
		err := Run(context.Background(), Config{
			Cmdline: tc.cmdline, Sources: tc.sources, IMDS: endpoint, Log: l,
			Send: func(r configsock.Request) (configsock.Result, error) {
				got = append(got, r)
				return configsock.Result{Applied: true}, nil
			},
			Timeout: time.Second, URLTries: 2, Backoff: time.Millisecond,
		})
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.err)
		}
		var srcs []configsrc.Source
		for _, r := range got {
			if r.Failed != "" {
				srcs = append(srcs, r.Source+"!")
				if strings.Contains(r.Failed, "s3cr3t") || r.Document != "" {
					t.Errorf("%s: a failure report quotes the URL's query or carries a document: %+v", tc.name, r)
				}
				continue
			}
			srcs = append(srcs, r.Source)
			if r.Document != doc {
				t.Errorf("%s: %s handed %q", tc.name, r.Source, r.Document)
			}
			if r.Source == configsrc.SourceMetadata && r.Meta.InstanceID != "i-1" {
				t.Errorf("%s: metadata's instance-id = %q, want i-1", tc.name, r.Meta.InstanceID)
			}
		}
		if strings.Join(sourcesStrings(srcs), ",") != strings.Join(sourcesStrings(tc.want), ",") {
			t.Errorf("%s: handed %v, want %v (log %v)", tc.name, srcs, tc.want, l.lines)
		}
	}
}

func sourcesStrings(s []configsrc.Source) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}

func TestWaitRoute(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int // lookups that find no route before one does
		wantErr  bool
	}{
		{"routed at once", 0, false},
		{"routed after two misses", 2, false},
		{"never routed", 1 << 30, true},
	} {
		var asked []string
		routable := func(host string) bool {
			asked = append(asked, host)
			return len(asked) > tc.failures
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := waitRoute(ctx, routable, "169.254.169.254", time.Millisecond)
		cancel()
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.wantErr)
		}
		if tc.wantErr && (err == nil || !strings.Contains(err.Error(), "no route to 169.254.169.254")) {
			t.Errorf("%s: err = %v, want it to name the host", tc.name, err)
		}
		if !tc.wantErr && len(asked) != tc.failures+1 {
			t.Errorf("%s: %d lookups, want %d", tc.name, len(asked), tc.failures+1)
		}
	}
}
