package nodeconfig

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
)

// generate derives the schema the node checks documents with from the
// upstream types, so PID 1 knows every field of a Pod and of the pinned
// kubelet's configuration without linking those packages (9 MB), and
// from NodeConfig, so all three are checked by one walker.
func generate() map[string]map[string]string {
	types := map[string]map[string]string{}
	seen := map[string]reflect.Type{}

	var typeName func(reflect.Type) string
	special := map[reflect.Type]string{
		reflect.TypeOf(metav1.Time{}):          tString,
		reflect.TypeOf(metav1.MicroTime{}):     tString,
		reflect.TypeOf(metav1.Duration{}):      tString,
		reflect.TypeOf(resource.Quantity{}):    tQuantity,
		reflect.TypeOf(intstr.IntOrString{}):   tIntOrString,
		reflect.TypeOf(runtime.RawExtension{}): tAny,
		reflect.TypeOf(json.RawMessage{}):      tAny,
		reflect.TypeOf(metav1.FieldsV1{}):      tAny,
	}
	var fields func(t reflect.Type, into map[string]string)
	fields = func(t reflect.Type, into map[string]string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if f.Anonymous && ft.Kind() == reflect.Struct && (name == "" || strings.Contains(","+opts+",", ",inline,")) {
				fields(ft, into)
				continue
			}
			if name == "" {
				name = f.Name
			}
			into[name] = typeName(f.Type)
		}
	}
	typeName = func(t reflect.Type) string {
		if s, ok := special[t]; ok {
			return s
		}
		if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()) {
			// Other upstream types that decode themselves
			// (component-base's QuantityValue, TimeOrMetaDuration) take
			// a string or a number.
			return tIntOrString
		}
		switch t.Kind() {
		case reflect.Pointer:
			return typeName(t.Elem())
		case reflect.String:
			return tString
		case reflect.Bool:
			return tBool
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return tInt
		case reflect.Float32, reflect.Float64:
			return tNumber
		case reflect.Slice:
			if t.Elem().Kind() == reflect.Uint8 {
				return tString // base64
			}
			return "[" + typeName(t.Elem())
		case reflect.Map:
			return "{" + typeName(t.Elem())
		case reflect.Interface:
			return tAny
		case reflect.Struct:
			name := t.Name()
			if name == "" {
				panic("schema: anonymous struct in " + t.String())
			}
			if prev, ok := seen[name]; ok && prev != t {
				panic("schema: two types named " + name + ": " + prev.String() + " and " + t.String())
			}
			seen[name] = t
			if _, done := types[name]; !done {
				m := map[string]string{}
				types[name] = m
				fields(t, m)
			}
			return name
		}
		panic("schema: no JSON form for " + t.String())
	}
	typeName(reflect.TypeOf(corev1.Pod{}))
	typeName(reflect.TypeOf(kubeletv1beta1.KubeletConfiguration{}))
	typeName(reflect.TypeOf(NodeConfig{}))
	return types
}

// TestSchema checks schema.json against the pinned upstream types
// (UPDATE_SCHEMA=1 rewrites it after a Kubernetes update).
func TestSchema(t *testing.T) {
	want := generate()
	if os.Getenv("UPDATE_SCHEMA") == "1" {
		names := make([]string, 0, len(want))
		for n := range want {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		b.WriteString("{\n")
		for i, n := range names {
			fb, _ := json.Marshal(want[n]) // sorted keys
			b.WriteString("  " + string(mustJSON(n)) + ": " + string(fb))
			if i < len(names)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("}\n")
		if err := os.WriteFile("schema.json", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want, schema()); diff != "" {
		t.Errorf("schema.json differs from the upstream types (UPDATE_SCHEMA=1 go test -run TestSchema ./internal/shared/nodeconfig) (-upstream +schema.json):\n%s", diff)
	}
	for _, root := range []string{"Pod", "KubeletConfiguration", "NodeConfig"} {
		if schema()[root] == nil {
			t.Errorf("schema has no %s", root)
		}
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }
