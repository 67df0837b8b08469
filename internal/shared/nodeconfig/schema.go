package nodeconfig

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Field types of schema.json: a struct's name, or one of these; "[T" is
// a list of T and "{T" a map from strings to T.
const (
	tString      = "string"
	tBool        = "bool"
	tInt         = "int"
	tNumber      = "number"
	tQuantity    = "quantity"    // resource.Quantity: "100Mi" or 5
	tIntOrString = "intOrString" // intstr.IntOrString
	tAny         = "any"
)

//go:embed schema.json
var schemaJSON []byte

var schema = sync.OnceValue(func() map[string]map[string]string {
	var s map[string]map[string]string
	if err := json.Unmarshal(schemaJSON, &s); err != nil {
		panic("nodeconfig: schema.json: " + err.Error()) // caught by TestSchema
	}
	return s
})

// checkSchema reports each field of v (decoded JSON, numbers as
// json.Number) that typ does not have or whose value has the wrong
// type, with its path.
func checkSchema(v any, typ, path string) []error {
	if v == nil {
		return nil // null is "not set" for every field
	}
	bad := func(want string) []error {
		return []error{fmt.Errorf("%s: want %s, got %s", pathOr(path), want, jsonKind(v))}
	}
	switch {
	case strings.HasPrefix(typ, "["):
		list, ok := v.([]any)
		if !ok {
			return bad("a list")
		}
		var errs []error
		for i, e := range list {
			errs = append(errs, checkSchema(e, typ[1:], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	case strings.HasPrefix(typ, "{"):
		m, ok := v.(map[string]any)
		if !ok {
			return bad("a map")
		}
		var errs []error
		for _, k := range slices.Sorted(maps.Keys(m)) {
			errs = append(errs, checkSchema(m[k], typ[1:], joinPath(path, k))...)
		}
		return errs
	}
	switch typ {
	case tAny:
		return nil
	case tString:
		if _, ok := v.(string); !ok {
			return bad("a string")
		}
		return nil
	case tBool:
		if _, ok := v.(bool); !ok {
			return bad("true or false")
		}
		return nil
	case tInt:
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			return bad("an integer")
		}
		return nil
	case tNumber:
		if _, ok := v.(json.Number); !ok {
			return bad("a number")
		}
		return nil
	case tQuantity, tIntOrString:
		switch v.(type) {
		case string, json.Number:
			return nil
		}
		return bad("a string or a number")
	}
	fields, ok := schema()[typ]
	if !ok {
		return []error{fmt.Errorf("%s: no schema for %s", pathOr(path), typ)}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return bad("an object")
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		ft, ok := fields[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown field", joinPath(path, k)))
			continue
		}
		errs = append(errs, checkSchema(m[k], ft, joinPath(path, k))...)
	}
	return errs
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathOr(path string) string {
	if path == "" {
		return "(document)"
	}
	return path
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
