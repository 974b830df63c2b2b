package main

// JSON <-> Lua. Lua has one table type and one number type, so the way back needs help:
//   - numbers: a whole number comes back as an integer (`20`, not `20.0`), anything else as a
//     float, so the object can be applied again (Kubernetes rejects 20.0 for an int32 field);
//   - empty tables: an empty table is an empty array where the input had an array at that
//     place, and an empty object otherwise (Argo CD repairs the same case from the input);
//   - a table is an array when its keys are exactly 1..n, an object otherwise (number keys are
//     written as strings).

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// toLua converts a decoded JSON value (json.Number for numbers) to a Lua value. JSON null is
// Lua nil: a key whose value is null is absent in Lua, as in Argo CD.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return lua.LString(v.String())
		}
		return lua.LNumber(f)
	case float64:
		return lua.LNumber(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	panic(fmt.Sprintf("toLua: unexpected %T", v))
}

// isEmpty says whether t has no keys at all.
func isEmpty(t *lua.LTable) bool {
	k, _ := t.Next(lua.LNil)
	return k == lua.LNil
}

// isList says whether t is a non-empty sequence: keys exactly 1..n.
func isList(t *lua.LTable) bool {
	n := 0
	seq := true
	t.ForEach(func(k, _ lua.LValue) {
		n++
		if num, ok := k.(lua.LNumber); !ok || float64(num) != math.Trunc(float64(num)) || num < 1 {
			seq = false
		}
	})
	if !seq || n == 0 {
		return false
	}
	for i := 1; i <= n; i++ {
		if t.RawGetInt(i) == lua.LNil {
			return false
		}
	}
	return true
}

// fromLua converts a Lua value back to JSON-ready Go values. orig is the input's value at the
// same place (nil if there was none); it only decides the shape of empty tables.
func fromLua(v lua.LValue, orig any, seen map[*lua.LTable]bool) (any, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LString:
		return string(v), nil
	case lua.LNumber:
		return numberJSON(float64(v))
	case *lua.LTable:
		if seen[v] {
			return nil, fmt.Errorf("a table contains itself")
		}
		seen[v] = true
		defer delete(seen, v)
		if isEmpty(v) {
			if _, wasArray := orig.([]any); wasArray {
				return []any{}, nil
			}
			return map[string]any{}, nil
		}
		if isList(v) {
			origArr, _ := orig.([]any)
			n := v.Len()
			arr := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				var o any
				if i-1 < len(origArr) {
					o = origArr[i-1]
				}
				e, err := fromLua(v.RawGetInt(i), o, seen)
				if err != nil {
					return nil, fmt.Errorf("[%d]: %w", i, err)
				}
				arr = append(arr, e)
			}
			return arr, nil
		}
		origMap, _ := orig.(map[string]any)
		m := map[string]any{}
		var ferr error
		v.ForEach(func(k, e lua.LValue) {
			if ferr != nil {
				return
			}
			var key string
			switch k := k.(type) {
			case lua.LString:
				key = string(k)
			case lua.LNumber:
				key = k.String()
			default:
				ferr = fmt.Errorf("a table key is a %s; JSON keys are strings", k.Type())
				return
			}
			val, err := fromLua(e, origMap[key], seen)
			if err != nil {
				ferr = fmt.Errorf("%s: %w", key, err)
				return
			}
			m[key] = val
		})
		if ferr != nil {
			return nil, ferr
		}
		return m, nil
	}
	return nil, fmt.Errorf("a Lua %s has no JSON form", v.Type())
}

func numberJSON(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v has no JSON form", f)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return json.Number(strconv.FormatInt(int64(f), 10)), nil
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

// createMergePatch returns the RFC 7386 JSON merge patch from a to b (both objects), nil when
// they are equal: what Argo CD sends to the API server for an action's result.
func createMergePatch(a, b map[string]any) map[string]any {
	patch := map[string]any{}
	for k, bv := range b {
		av, ok := a[k]
		if !ok {
			patch[k] = bv
			continue
		}
		am, aIsMap := av.(map[string]any)
		bm, bIsMap := bv.(map[string]any)
		if aIsMap && bIsMap {
			if p := createMergePatch(am, bm); p != nil {
				patch[k] = p
			}
			continue
		}
		if !jsonEqual(av, bv) {
			patch[k] = bv
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			patch[k] = nil
		}
	}
	if len(patch) == 0 {
		return nil
	}
	return patch
}

func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return false
		}
		af, err1 := a.Float64()
		bf, err2 := bn.Float64()
		return err1 == nil && err2 == nil && af == bf
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			w, ok := bm[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		ba, ok := b.([]any)
		if !ok || len(a) != len(ba) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], ba[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}
